"""The OData query options (``$filter``, ``$orderby``, ``$top``, ``$skip``, ``$count``)
and server-driven paging, shared by the native and the AIMS360 job lists.

A response holds at most ``PAGE_SIZE`` jobs (``Prefer: odata.maxpagesize=N`` asks for up
to 1,000); ``@odata.nextLink`` repeats the query past the page, with what remains of
``$top``, until nothing is left.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

from jobhub import odata
from jobhub.api.links import base_url
from jobhub.api_keys import Principal
from jobhub.manager import JobManager
from jobhub.queries import MAX_LIMIT, MAX_SKIP, FilteredPage

PAGE_SIZE = 100
_MAX_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)")


@dataclass(frozen=True, slots=True)
class QueryOptions:
    filter: str | None
    orderby: str | None
    top: int | None
    skip: int
    count: bool


def _options(
    filter: Annotated[
        str | None,
        Query(alias="$filter", max_length=2000, description="e.g. status eq 'Completed'"),
    ] = None,
    orderby: Annotated[
        str | None, Query(alias="$orderby", max_length=500, description="e.g. createdAt desc")
    ] = None,
    top: Annotated[
        int | None, Query(alias="$top", ge=1, le=MAX_LIMIT, description="at most this many")
    ] = None,
    skip: Annotated[int, Query(alias="$skip", ge=0, le=MAX_SKIP)] = 0,
    count: Annotated[bool, Query(alias="$count", description="add @odata.count")] = False,
) -> QueryOptions:
    return QueryOptions(filter, orderby, top, skip, count)


Options = Annotated[QueryOptions, Depends(_options)]


def query(
    request: Request,
    manager: JobManager,
    caller: Principal,
    options: QueryOptions,
    fields: Mapping[str, odata.Field] = odata.FIELDS,
) -> tuple[FilteredPage, dict[str, Any]]:
    """This page of the caller's organization's jobs, and its OData envelope (count, next
    link)."""
    size = min(page_size(request), options.top or MAX_LIMIT)
    page = manager.query_page(
        filter=options.filter,
        orderby=options.orderby,
        top=size,
        skip=options.skip,
        organization=caller.organization,
        count=options.count,
        fields=fields,
    )
    envelope: dict[str, Any] = {}
    if page.total is not None:
        envelope["@odata.count"] = page.total
    if page.more and (options.top is None or options.top > size):
        params = {k: v for k, v in request.query_params.items() if k not in ("$skip", "$top")}
        params["$skip"] = str(options.skip + size)
        if options.top is not None:
            params["$top"] = str(options.top - size)
        next_link = f"{base_url(request, manager)}{request.url.path}?{urlencode(params)}"
        envelope["@odata.nextLink"] = next_link
    return page, envelope


def page_size(request: Request) -> int:
    match = _MAX_PAGE_SIZE.search(request.headers.get("prefer", ""))
    return PAGE_SIZE if match is None else max(1, min(int(match.group(1)), MAX_LIMIT))
