"""The foreign representations of a job (``jobhub.formats.representations``): JobStatusRepr
and AIMS360."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobhub.documents import Document
from jobhub.formats.representations import (
    AIMS360_SCOPE,
    aims360_record,
    aims360_rerun,
    jobstatus_json,
    jobstatus_xml,
    parameters_text,
    parse_parameters_text,
)
from jobhub.jobs import AccessScope, Job, JobError, JobStatus, JSONValue

JOB_ID = UUID("0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55")
DOC_ID = UUID("6576767c-a264-4fc5-a30b-45e7a8c2fa84")
DOC_ID_2 = UUID("d29fac30-650a-4ff2-b2b1-acab3c7472ea")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ADDRESS = "https://jobs.example/jobs/0b7f3c1e-5d2a-4c8e-9f41-2a6d8e9b1c55"
LINK = "https://jobs.example/documents/6576767c-a264-4fc5-a30b-45e7a8c2fa84/tok1"
LINK_2 = "https://jobs.example/documents/d29fac30-650a-4ff2-b2b1-acab3c7472ea/tok2"
LINKS = {DOC_ID: LINK, DOC_ID_2: LINK_2}
STORED = sorted(set(JobStatus) - {JobStatus.UNKNOWN})

SEED_BACKGROUNDJOB_KEYS = {
    "@odata.etag",
    "categoryName",
    "subCategoryName",
    "jobDescription",
    "clientRequestId",
    "jobStatus",
    "jobStatusText",
    "publishLink",
    "requestURL",
    "publishLinkAccessScope",
    "percentCompleted",
    "jobID",
    "responseType",
    "response",
    "startDate",
    "completedDate",
    "purgeDateTime",
    "clientID",
    "DatabaseName",
    "accountCode",
    "canReRun",
    "createdBy",
    "createdDate",
    "modifiedBy",
    "modifiedDate",
}
XML_CHILDREN = [
    "Parameters",
    "Id",
    "Identity",
    "WorkerId",
    "StatusMessage",
    "Created",
    "Updated",
    "Completed",
    "Progress",
    "JobData",
]


def make_job(**changes: Any) -> Job:
    job = Job(
        id=JOB_ID,
        job_type="reports.job_statistics",
        category="Reports",
        subcategory="Job statistics",
        description="Counts jobs by status",
        parameters={"days": 7, "label": "weekly", "types": ["a", "b"]},
        identity="alice",
        organization="acme",
        client_request_id="req-1",
        key=None,
        status=JobStatus.COMPLETED,
        status_text="report ready",
        percent=100,
        worker_id="celery@host/4242",
        attempt=1,
        result={"total": 3, "by_status": {"Completed": 3}},
        error=None,
        can_cancel=False,
        can_rerun=True,
        cancel_requested_at=None,
        created_at=T0,
        queued_at=T0 + timedelta(milliseconds=5),
        started_at=T0 + timedelta(milliseconds=20),
        updated_at=T0 + timedelta(seconds=2, microseconds=737000),
        completed_at=T0 + timedelta(seconds=2, microseconds=737000),
        purge_at=T0 + timedelta(days=30),
        created_by="alice@example.com",
        modified_by="celery@host/4242",
        access_scope=AccessScope.PRIVATE,
    )
    return replace(job, **changes)


def make_document(
    doc_id: UUID = DOC_ID, name: str = "reports.job_statistics_20240501T120002Z.json"
) -> Document:
    return Document(
        id=doc_id,
        job_id=JOB_ID,
        attempt=1,
        name=name,
        content_type="application/json",
        size=1_572_864,
        created_at=T0 + timedelta(seconds=2),
        expires_at=T0 + timedelta(days=30),
    )


def failed_job(**changes: Any) -> Job:
    return make_job(
        status=JobStatus.COMPLETED_WITH_ERRORS,
        status_text=None,
        percent=40,
        result=None,
        error=JobError(type="builtins.ValueError", message="no such table"),
        **changes,
    )


def running_job(**changes: Any) -> Job:
    return make_job(
        status=JobStatus.PROCESSING,
        status_text="step 1 of 2",
        percent=50,
        result=None,
        completed_at=None,
        **changes,
    )


def waiting_job(status_text: str = "starts at 2024-05-01 13:30:00 UTC") -> Job:
    """A job Created with a due time: a delayed start, or a retry waiting out its backoff."""
    return make_job(
        status=JobStatus.CREATED,
        status_text=status_text,
        percent=0,
        worker_id=None,
        result=None,
        queued_at=None,
        started_at=None,
        completed_at=None,
        due_at=T0 + timedelta(hours=1, minutes=30),
    )


def xml_root(job: Job, documents: list[Document] | None = None) -> ET.Element:
    return ET.fromstring(
        jobstatus_xml(job, address=ADDRESS, documents=documents or [], links=LINKS)
    )


def aims(job: Job, documents: list[Document] | None = None) -> dict[str, Any]:
    return aims360_record(
        job,
        documents=documents or [],
        links=LINKS,
        etag='W/"abc"',
        request_url="https://jobs.example/jobs",
    )


# -- parameters list -------------------------------------------------------------------


def test_parameters_text_keeps_order_writes_strings_raw_and_the_rest_as_compact_json() -> None:
    text = parameters_text({"z": "plain text", "a": 7, "flag": True, "none": None, "o": {"b": 1}})
    assert text == 'z=plain text;a=7;flag=true;none=null;o={"b":1}'


def test_parameters_text_sorts_object_keys_and_writes_lists_compactly() -> None:
    assert parameters_text({"o": {"b": [1, 2], "a": 1.5}}) == 'o={"a":1.5,"b":[1,2]}'


def test_parameters_text_percent_encodes_separators_in_names_and_values() -> None:
    text = parameters_text({"a=b;c": "x;y=z%", "p%": "100%"})
    assert text == "a%3Db%3Bc=x%3By%3Dz%25;p%25=100%25"
    assert parse_parameters_text(text) == {"a=b;c": "x;y=z%", "p%": "100%"}


def test_parameters_text_of_no_parameters_is_empty() -> None:
    assert parameters_text({}) == ""
    assert parse_parameters_text("") == {}


def test_parameters_text_of_an_empty_name_and_value_is_not_empty() -> None:
    assert parameters_text({"": ""}) == "="
    assert parse_parameters_text("=") == {"": ""}


def test_parse_parameters_text_reads_the_seed_example_and_skips_a_trailing_separator() -> None:
    assert parse_parameters_text("ParamName=ParamValue;ParamName2=ParamValue2;") == {
        "ParamName": "ParamValue",
        "ParamName2": "ParamValue2",
    }


def test_parse_parameters_text_decodes_lower_case_escapes_and_leaves_others() -> None:
    assert parse_parameters_text("a%3d=b%3b%20") == {"a=": "b;%20"}


@pytest.mark.parametrize("text", ["novalue", "a=1;b", "a=1;a=2"])
def test_parse_parameters_text_rejects_malformed_lists(text: str) -> None:
    with pytest.raises(ValueError, match="parameter"):
        parse_parameters_text(text)


json_values: st.SearchStrategy[JSONValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
hostile_text = st.text(alphabet=st.sampled_from("%;=ab3BD2 5é\n"), max_size=12) | st.text()


@given(st.dictionaries(hostile_text, json_values | hostile_text, max_size=6))
def test_parameters_text_round_trips_through_parse(parameters: dict[str, JSONValue]) -> None:
    expected = {
        name: value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), sort_keys=True)
        for name, value in parameters.items()
    }
    parsed = parse_parameters_text(parameters_text(parameters))
    assert parsed == expected
    assert list(parsed) == list(parameters)


# -- JobStatusRepr as JSON -------------------------------------------------------------


def status_json(job: Job, documents: list[Document] | None = None) -> dict[str, Any]:
    return jobstatus_json(job, address=ADDRESS, type_code=3, documents=documents or [], links=LINKS)


def test_jobstatus_json_has_exactly_the_seed_keys_and_the_type_name() -> None:
    record = status_json(make_job())
    assert list(record) == [
        "Id",
        "Address",
        "Identity",
        "WorkerId",
        "StatusMessage",
        "Created",
        "Updated",
        "Completed",
        "Progress",
        "JobData",
        "JobType",
        "TypeName",
        "Status",
        "Parameters",
    ]
    assert record["Id"] == str(JOB_ID)
    assert record["Address"] == ADDRESS
    assert record["Identity"] == "alice"
    assert record["WorkerId"] == "celery@host/4242"
    assert record["StatusMessage"] == "report ready"
    assert record["Created"] == "2024-05-01T12:00:00+00:00"
    assert record["Completed"] == "2024-05-01T12:00:02.737000+00:00"
    assert record["Progress"] == {"PercentComplete": 100, "StatusText": "report ready"}
    assert record["JobData"] == []
    assert record["JobType"] == 3
    assert record["TypeName"] == "reports.job_statistics"
    assert record["Parameters"] == 'days=7;label=weekly;types=["a","b"]'
    json.dumps(record)


@pytest.mark.parametrize("status", STORED)
def test_jobstatus_json_status_is_the_numeric_code(status: JobStatus) -> None:
    assert status_json(make_job(status=status))["Status"] == int(status)


def test_jobstatus_json_codes_match_the_seed() -> None:
    codes = {status.label: int(status) for status in STORED}
    assert codes == {
        "Created": 0,
        "Queued": 1,
        "Processing": 2,
        "Completed": 3,
        "CompletedWithErrors": 4,
        "Cancelled": 5,
    }


def test_jobstatus_json_of_a_running_job_has_no_completed_date() -> None:
    record = status_json(running_job())
    assert record["Completed"] is None
    assert record["Progress"] == {"PercentComplete": 50, "StatusText": "step 1 of 2"}


def test_jobstatus_json_failed_job_without_status_text_shows_its_error() -> None:
    record = status_json(failed_job())
    assert record["StatusMessage"] == "no such table"
    assert record["Progress"]["StatusText"] is None


def test_jobstatus_json_lists_each_document_with_its_link() -> None:
    documents = [make_document(), make_document(DOC_ID_2, "part-2.csv")]
    record = status_json(make_job(), documents)
    assert record["JobData"] == [
        {
            "Id": str(DOC_ID),
            "Name": "reports.job_statistics_20240501T120002Z.json",
            "ContentType": "application/json",
            "Size": 1_572_864,
            "Address": LINK,
            "Expires": "2024-05-31T12:00:00+00:00",
        },
        {
            "Id": str(DOC_ID_2),
            "Name": "part-2.csv",
            "ContentType": "application/json",
            "Size": 1_572_864,
            "Address": LINK_2,
            "Expires": "2024-05-31T12:00:00+00:00",
        },
    ]


# -- JobStatusRepr as XML --------------------------------------------------------------


def test_jobstatus_xml_is_utf8_with_a_declaration() -> None:
    body = jobstatus_xml(make_job(), address=ADDRESS, documents=[], links=LINKS)
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")


@pytest.mark.parametrize("status", STORED)
def test_jobstatus_xml_root_carries_status_label_and_code(status: JobStatus) -> None:
    root = xml_root(make_job(status=status))
    assert root.tag == "JobStatus"
    assert root.attrib == {
        "Type": "reports.job_statistics",
        "Status": status.label,
        "Address": ADDRESS,
        "StatusCode": str(int(status)),
    }


def test_jobstatus_xml_children_follow_the_seed_order() -> None:
    root = xml_root(make_job())
    assert [child.tag for child in root] == XML_CHILDREN
    assert root.findtext("Id") == str(JOB_ID)
    assert root.findtext("Identity") == "alice"
    assert root.findtext("WorkerId") == "celery@host/4242"
    assert root.findtext("StatusMessage") == "report ready"
    assert root.findtext("Created") == "2024-05-01T12:00:00+00:00"
    assert root.findtext("Updated") == "2024-05-01T12:00:02.737000+00:00"
    assert root.findtext("Completed") == "2024-05-01T12:00:02.737000+00:00"
    progress = root.find("Progress")
    assert progress is not None
    assert progress.attrib == {"PercentComplete": "100"}
    assert progress.text == "report ready"


def test_jobstatus_xml_parameters_parse_back() -> None:
    root = xml_root(make_job())
    assert parse_parameters_text(root.findtext("Parameters") or "") == {
        "days": "7",
        "label": "weekly",
        "types": '["a","b"]',
    }


def test_jobstatus_xml_omits_missing_values_but_keeps_parameters_and_job_data() -> None:
    job = make_job(
        parameters={},
        identity=None,
        worker_id=None,
        status=JobStatus.CREATED,
        status_text=None,
        percent=0,
        started_at=None,
        completed_at=None,
    )
    root = xml_root(job)
    assert [child.tag for child in root] == [
        "Parameters",
        "Id",
        "Created",
        "Updated",
        "Progress",
        "JobData",
    ]
    parameters = root.find("Parameters")
    job_data = root.find("JobData")
    progress = root.find("Progress")
    assert parameters is not None
    assert not parameters.text
    assert job_data is not None
    assert len(job_data) == 0
    assert progress is not None
    assert progress.text is None


def test_jobstatus_xml_failed_job_without_status_text_shows_its_error() -> None:
    root = xml_root(failed_job())
    assert root.get("Status") == "CompletedWithErrors"
    assert root.get("StatusCode") == "4"
    assert root.findtext("StatusMessage") == "no such table"


def test_jobstatus_xml_lists_each_document_as_an_attribute_only_element() -> None:
    root = xml_root(make_job(), [make_document(), make_document(DOC_ID_2, "part-2.csv")])
    job_data = root.find("JobData")
    assert job_data is not None
    assert [element.attrib for element in job_data] == [
        {
            "Id": str(DOC_ID),
            "Name": "reports.job_statistics_20240501T120002Z.json",
            "ContentType": "application/json",
            "Size": "1572864",
            "Address": LINK,
            "Expires": "2024-05-31T12:00:00+00:00",
        },
        {
            "Id": str(DOC_ID_2),
            "Name": "part-2.csv",
            "ContentType": "application/json",
            "Size": "1572864",
            "Address": LINK_2,
            "Expires": "2024-05-31T12:00:00+00:00",
        },
    ]
    assert all(element.tag == "JobData" and not element.text for element in job_data)


def test_jobstatus_xml_escapes_markup_and_quotes_in_text_and_attributes() -> None:
    hostile = "a<b>&c \"d\" 'e' ]]> </JobStatus>"
    job = make_job(
        job_type=hostile,
        identity=hostile,
        status_text=hostile,
        parameters={hostile: hostile},
    )
    root = ET.fromstring(
        jobstatus_xml(
            job, address=hostile, documents=[make_document(name=hostile)], links={DOC_ID: hostile}
        )
    )
    assert root.get("Type") == hostile
    assert root.get("Address") == hostile
    assert root.findtext("Identity") == hostile
    assert root.findtext("StatusMessage") == hostile
    assert root.findtext("Progress") == hostile
    assert parse_parameters_text(root.findtext("Parameters") or "") == {hostile: hostile}
    document = root.find("JobData/JobData")
    assert document is not None
    assert document.get("Name") == hostile
    assert document.get("Address") == hostile


def test_jobstatus_xml_replaces_characters_xml_cannot_carry() -> None:
    job = make_job(
        status_text="bell\x07 nul\x00 esc\x1b tab\t nl\n ff\x0c lone\ud800 \ufffe end",
        identity="\x01who",
    )
    root = xml_root(job)
    assert root.findtext("StatusMessage") == (
        "bell\ufffd nul\ufffd esc\ufffd tab\t nl\n ff\ufffd lone\ufffd \ufffd end"
    )
    assert root.findtext("Identity") == "\ufffdwho"


def test_jobstatus_xml_keeps_tabs_and_newlines_in_attributes() -> None:
    root = xml_root(make_job(job_type="a\tb\nc"))
    assert root.get("Type") == "a\tb\nc"


def _xml_char(char: str) -> bool:
    code = ord(char)
    return (
        char in "\t\n\r"
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


@given(st.text(alphabet=st.characters(exclude_categories=())))
def test_jobstatus_xml_always_parses_whatever_the_status_text(text: str) -> None:
    root = xml_root(make_job(status_text=text, identity=text))
    expected = "".join(char if _xml_char(char) else "\ufffd" for char in text)
    expected = expected.replace("\r\n", "\n").replace("\r", "\n")  # XML line-end handling
    assert (root.findtext("StatusMessage") or "") == expected
    assert (root.findtext("Identity") or "") == expected


# -- AIMS360 ---------------------------------------------------------------------------


def test_aims360_scope_names_every_access_scope() -> None:
    assert dict(AIMS360_SCOPE) == {
        AccessScope.PUBLIC: "Public",
        AccessScope.PRIVATE: "Private",
        AccessScope.ORGANIZATION: "PeopleInOrganization",
    }


def test_aims360_record_of_an_inline_result_has_the_seed_fields() -> None:
    record = aims(make_job())
    assert set(record) == SEED_BACKGROUNDJOB_KEYS
    assert record == {
        "@odata.etag": 'W/"abc"',
        "jobID": str(JOB_ID),
        "categoryName": "Reports",
        "subCategoryName": "Job statistics",
        "jobDescription": "Counts jobs by status",
        "clientID": "acme",
        "DatabaseName": None,
        "accountCode": "acme",
        "clientRequestId": "req-1",
        "jobStatus": "Completed",
        "jobStatusText": "report ready",
        "percentCompleted": 100,
        "responseType": "In-line JSON",
        "publishLink": None,
        "publishLinkAccessScope": "Private",
        "response": '{"total":3,"by_status":{"Completed":3}}',
        "requestURL": "https://jobs.example/jobs",
        "startDate": "2024-05-01T12:00:00.020000Z",
        "completedDate": "2024-05-01T12:00:02.737000Z",
        "purgeDateTime": "2024-05-31T12:00:00Z",
        "canReRun": "Yes",
        "createdBy": "alice@example.com",
        "createdDate": "2024-05-01T12:00:00Z",
        "modifiedBy": "celery@host/4242",
        "modifiedDate": "2024-05-01T12:00:02.737000Z",
    }
    assert json.loads(record["response"]) == make_job().result


def test_aims360_record_of_a_published_result_lists_its_documents_in_a_json_string() -> None:
    documents = [make_document(), make_document(DOC_ID_2, "part-2.csv")]
    record = aims(make_job(access_scope=AccessScope.PUBLIC), documents)
    assert record["responseType"] == "Publishlink"
    assert record["publishLink"] == LINK
    assert record["publishLinkAccessScope"] == "Public"
    assert isinstance(record["response"], str)
    assert json.loads(record["response"]) == [
        {
            "DocumentID": str(DOC_ID),
            "documentName": "reports.job_statistics_20240501T120002Z.json",
            "DownloadLink": LINK,
            "SizeInMB": 1.5,
            "Type": ".json",
            "ExpiryDate": "2024-05-31T12:00:00Z",
            "Version": "1.0",
        },
        {
            "DocumentID": str(DOC_ID_2),
            "documentName": "part-2.csv",
            "DownloadLink": LINK_2,
            "SizeInMB": 1.5,
            "Type": ".csv",
            "ExpiryDate": "2024-05-31T12:00:00Z",
            "Version": "1.0",
        },
    ]


def test_aims360_document_without_extension_has_an_empty_type() -> None:
    record = aims(make_job(), [make_document(name="output")])
    assert json.loads(record["response"])[0]["Type"] == ""


def test_aims360_record_of_a_null_inline_result_is_the_json_null_string() -> None:
    assert aims(make_job(result=None))["response"] == "null"


def test_aims360_cancelled_job_is_failed_and_says_cancelled() -> None:
    job = make_job(status=JobStatus.CANCELLED, status_text=None, result=None)
    record = aims(job)
    assert record["jobStatus"] == "Failed"
    assert record["jobStatusText"] == "Cancelled"
    assert record["response"] is None


def test_aims360_cancelled_job_keeps_its_own_status_text() -> None:
    job = make_job(status=JobStatus.CANCELLED, status_text="cancelled by bob", result=None)
    assert aims(job)["jobStatusText"] == "cancelled by bob"


def test_aims360_failed_job_is_failed_with_its_error_message_and_no_response() -> None:
    record = aims(failed_job())
    assert record["jobStatus"] == "Failed"
    assert record["jobStatusText"] == "no such table"
    assert record["response"] is None


def test_aims360_running_job_has_no_response_type_and_no_completion() -> None:
    record = aims(running_job())
    assert record["jobStatus"] == "Inprogress"
    assert record["responseType"] is None
    assert record["response"] is None
    assert record["publishLink"] is None
    assert record["completedDate"] is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (JobStatus.CREATED, "Queued"),
        (JobStatus.QUEUED, "Queued"),
        (JobStatus.PROCESSING, "Inprogress"),
        (JobStatus.COMPLETED, "Completed"),
        (JobStatus.COMPLETED_WITH_ERRORS, "Failed"),
        (JobStatus.CANCELLED, "Failed"),
    ],
)
def test_aims360_job_status_for_each_status(status: JobStatus, expected: str) -> None:
    assert aims(make_job(status=status))["jobStatus"] == expected


def test_aims360_dates_are_written_in_utc_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    job = make_job(created_at=datetime(2024, 5, 1, 14, 0, tzinfo=plus_two), started_at=None)
    record = aims(job)
    assert record["createdDate"] == "2024-05-01T12:00:00Z"
    assert record["startDate"] is None


def test_aims360_can_rerun_is_yes_or_no() -> None:
    assert aims(make_job(can_rerun=False))["canReRun"] == "No"


def test_aims360_record_is_json_serializable() -> None:
    json.dumps(aims(make_job(), [make_document()]))


def test_aims360_rerun_has_the_seed_fields() -> None:
    job = make_job(
        status=JobStatus.QUEUED, completed_at=None, access_scope=AccessScope.ORGANIZATION
    )
    assert aims360_rerun(job, documents=[], links=LINKS) == {
        "jobId": str(JOB_ID),
        "jobStatus": "Queued",
        "publishLink": None,
        "publishLinkAccessScope": "PeopleInOrganization",
    }
    with_document = aims360_rerun(job, documents=[make_document()], links=LINKS)
    assert with_document["publishLink"] == LINK


# -- a job waiting for its start time or its next attempt -------------------------------


@pytest.mark.parametrize(
    "text", ["starts at 2024-05-01 13:30:00 UTC", "attempt 2 of 5 at 13:30:00 UTC"]
)
def test_jobstatus_json_of_a_waiting_job_is_created_with_its_text_and_due_time(text: str) -> None:
    record = status_json(waiting_job(text))

    assert record["Status"] == 0
    assert record["StatusMessage"] == text
    assert record["Progress"] == {"PercentComplete": 0, "StatusText": text}
    assert record["Due"] == "2024-05-01T13:30:00+00:00"
    assert list(record)[-1] == "Due"


def test_jobstatus_json_of_a_job_not_waiting_has_no_due_time() -> None:
    assert "Due" not in status_json(make_job())
    assert "Due" not in status_json(make_job(status=JobStatus.CREATED, status_text=None))


def test_jobstatus_xml_of_a_waiting_job_is_created_with_a_due_element_after_completed() -> None:
    root = xml_root(waiting_job("attempt 2 of 5 at 13:30:00 UTC"))

    assert (root.get("Status"), root.get("StatusCode")) == ("Created", "0")
    assert [child.tag for child in root] == [
        "Parameters",
        "Id",
        "Identity",
        "StatusMessage",
        "Created",
        "Updated",
        "Due",
        "Progress",
        "JobData",
    ]
    assert root.findtext("Due") == "2024-05-01T13:30:00+00:00"
    assert root.findtext("StatusMessage") == "attempt 2 of 5 at 13:30:00 UTC"


def test_aims360_waiting_job_is_queued_with_its_status_text_and_the_seed_fields() -> None:
    record = aims(waiting_job("attempt 2 of 5 at 13:30:00 UTC"))

    assert set(record) == SEED_BACKGROUNDJOB_KEYS
    assert record["jobStatus"] == "Queued"
    assert record["jobStatusText"] == "attempt 2 of 5 at 13:30:00 UTC"
    assert record["startDate"] is None
