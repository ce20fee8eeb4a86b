"""CSV for the reports: a generator of text chunks for ``StreamingHttpResponse``.

Rows are written with the ``csv`` module (quoting, embedded commas and newlines) into a
pass-through buffer and handed on in batches, so the response never holds more than one batch.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

BATCH = 500


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    batch = [writer.writerow(columns)]
    for row in rows:
        batch.append(writer.writerow([_cell(row.get(c)) for c in columns]))
        if len(batch) >= BATCH:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return value
