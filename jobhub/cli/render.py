"""Human-readable output of the CLI (``--json`` output is ``jobhub.formats.schema``'s records)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from jobhub.audit import AuditEntry
from jobhub.documents import Document
from jobhub.jobs import Job, JobEvent, JobMessage, JobStatus, JSONValue

_COLOURS = {
    JobStatus.CREATED: "white",
    JobStatus.QUEUED: "cyan",
    JobStatus.PROCESSING: "yellow",
    JobStatus.COMPLETED: "green",
    JobStatus.COMPLETED_WITH_ERRORS: "red",
    JobStatus.CANCELLED: "magenta",
}


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def status_label(status: JobStatus) -> str:
    return click.style(status.label, fg=_COLOURS.get(status))


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="milliseconds")


def job_details(job: Job, documents: Sequence[Document] = ()) -> str:
    """The multi-line view of ``jobhub status``."""
    lines = [
        f"job        {job.id}",
        f"type       {job.job_type}  ({job.category}/{job.subcategory})"
        if job.subcategory
        else f"type       {job.job_type}",
        f"status     {status_label(job.status)} ({int(job.status)})  {job.percent}%"
        + (f"  {job.status_text}" if job.status_text else ""),
        f"attempt    {attempt_text(job)}" + (f"  on {job.worker_id}" if job.worker_id else ""),
        f"queue      {job.queue}  priority {job.priority}",
        f"parameters {json.dumps(dict(job.parameters), ensure_ascii=False)}",
    ]
    if job.identity or job.organization:
        lines.append(f"submitter  {job.identity or '-'}  organization {job.organization or '-'}")
    if job.key:
        lines.append(f"key        {job.key}")
    if job.client_request_id:
        lines.append(f"request    {job.client_request_id}")
    if job.waiting:
        lines.append(f"due        {when(job.due_at)}")
    if job.held:
        lines.append(f"held       {job.status_text or 'by a pause or a limit'}")
    lines += [
        f"created    {when(job.created_at)}",
        f"queued     {when(job.queued_at)}",
        f"started    {when(job.started_at)}",
        f"completed  {when(job.completed_at)}",
        f"purge at   {when(job.purge_at)}",
    ]
    if job.cancel_requested:
        lines.append(f"cancel     requested {when(job.cancel_requested_at)}")
    if documents:
        lines.append(f"result     {outcome_text(job, documents)}")
    elif job.status is JobStatus.COMPLETED:
        lines.append(f"result     {json.dumps(job.result, ensure_ascii=False)}")
    if job.error is not None:
        lines.append(f"error      {job.error.type}: {job.error.message}")
    return "\n".join(lines)


def attempt_text(job: Job) -> str:
    """ "2 of 5": the attempt of this run and the attempts it may take; a job rerun says
    how many it took in all."""
    text = f"{job.attempt_in_run} of {job.max_attempts}"
    if job.attempt != job.attempt_in_run:
        text += f" ({job.attempt} in all, with reruns)"
    return text


def outcome_text(job: Job, documents: Sequence[Document]) -> str:
    """A result as one line: inline JSON, or the documents it was stored in."""
    if not documents:
        return json.dumps(job.result, ensure_ascii=False)
    stored = ", ".join(f"{d.name} ({d.size:,} bytes, id {d.id})" for d in documents)
    return f"too large to show inline; in {stored} (HTTP: GET /jobs/{job.id}/result)"


def jobs_table(jobs: Sequence[Job]) -> str:
    """The table of ``jobhub jobs``."""
    header = f"{'ID':36}  {'TYPE':24}  {'STATUS':19}  {'%':>3}  {'CREATED':23}  TEXT"
    rows = [header]
    for job in jobs:
        label = job.status.label
        padded = status_label(job.status) + " " * (19 - len(label))
        rows.append(
            f"{job.id!s:36}  {job.job_type[:24]:24}  {padded}  {job.percent:>3}  "
            f"{when(job.created_at):23}  {job.status_text or ''}"
        )
    return "\n".join(rows)


def event_line(event: JobEvent, job_type: str | None = None) -> str:
    parts = [when(event.at), status_label(event.status), f"attempt {event.attempt}"]
    if job_type:
        parts.insert(1, f"{job_type} {event.job_id}")
    if event.worker_id:
        parts.append(f"on {event.worker_id}")
    if event.message:
        parts.append(event.message)
    if event.error is not None:
        error = f"{event.error.type}: {event.error.message}"
        if error not in (event.message or ""):
            parts.append(error)
    return "  ".join(parts)


def message_line(message: JobMessage) -> str:
    return f"{when(message.at)}  [{message.level}]  {message.text}"


def audit_table(entries: Sequence[AuditEntry]) -> str:
    """The table of ``jobhub audit``: one action a line, its details and reason last."""
    header = (
        f"{'AT':29}  {'ORGANIZATION':12}  {'ACTOR':20}  {'KEY':16}  {'ACTION':14}  "
        f"{'TARGET':41}  DETAILS"
    )
    rows = [header]
    for entry in entries:
        actor = entry.actor
        line = (
            f"{when(entry.at):29}  {(actor.organization or '-')[:12]:12}  "
            f"{actor.identity[:20]:20}  {(actor.key_id or '-')[:16]:16}  "
            f"{entry.action.value:14}  {entry.target[:41]:41}  {details_text(entry.details)}"
        )
        if entry.reason:
            line += f"  reason: {' '.join(entry.reason.split())}"
        rows.append(line.rstrip())
    return "\n".join(rows)


def details_text(details: dict[str, JSONValue]) -> str:
    """An entry's details on one line: ``name=value`` each, a schedule by its rule."""
    parts = []
    for name, value in details.items():
        if isinstance(value, list) and all(isinstance(v, dict) and "when" in v for v in value):
            shown = "; ".join(str(v["when"]) for v in value if isinstance(v, dict)) or "none"
        elif isinstance(value, str | int | float | bool) or value is None:
            shown = str(value)
        else:
            shown = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        parts.append(f"{name}={shown}")
    return " ".join(parts)
