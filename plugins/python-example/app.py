"""Airlock example plugin in Python, written against wit/plugin.wit alone.

Migrates Timesheet Builder's user labels (`AO_09EAEF_USER_LABEL`: USER_KEY, LABEL,
COLOR) to a property on each labelled user's cloud account. Users are resolved in one
`mappings.resolve` call per batch; a label whose user has no mapping is a finding in
analysis and a plugin error in migration. A row it cannot read (a column absent, a
value of the wrong type) is refused with `bad-row`: an uncaught Python exception would
trap the batch with no explanation for the operator.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, mappings
from wit_world.imports.types import (
    DataScope,
    EntityKind,
    EntityProperty,
    Finding,
    Manifest,
    Output_EntityProperty,
    OutputKind,
    PluginError,
    RequestedLimits,
    Severity,
    Value_Integer,
    Value_Null,
    Value_String,
)

APP_KEY = "com.actonic.jira.timesheet-builder"
TABLE = "AO_09EAEF_USER_LABEL"
USER = "identity:user"
PROPERTY_KEY = "python-example.labels"


class BadRow(Exception):
    """A row this plugin cannot read: its id (if it has one) and what is wrong."""

    def __init__(self, row_id, message):
        super().__init__(message)
        self.row_id = row_id
        self.message = message


def _rows(rows):
    """Yields each row as a dict of column -> WIT value."""
    width = len(rows.columns)
    values = rows.values
    for start in range(0, len(values), width):
        yield dict(zip(rows.columns, values[start : start + width]))


def _read(row):
    """(id, user key, label, colour) of a row, or BadRow naming the problem."""
    raw_id = row.get("ID")
    row_id = raw_id.value if isinstance(raw_id, Value_Integer) else None
    if row_id is None:
        raise BadRow(None, "the row has no integer ID")
    for column in ("USER_KEY", "LABEL", "COLOR"):
        if column not in row:
            raise BadRow(row_id, f"column {column} is absent")
    user = row["USER_KEY"]
    if not isinstance(user, Value_String) or not user.value:
        raise BadRow(row_id, "USER_KEY is not a user key")
    texts = []
    for column in ("LABEL", "COLOR"):
        value = row[column]
        if isinstance(value, Value_Null):
            texts.append(None)
        elif isinstance(value, Value_String):
            texts.append(value.value)
        else:
            raise BadRow(row_id, f"{column} is not text")
    return row_id, user.value, texts[0], texts[1]


def _resolved(rows):
    """The batch's readable rows with their user's cloud account id (or None), and the
    rows it could not read."""
    read, bad = [], []
    for row in _rows(rows):
        try:
            read.append(_read(row))
        except BadRow as e:
            bad.append(e)
    keys = sorted({user for _, user, _, _ in read})
    accounts = dict(zip(keys, mappings.resolve(USER, keys))) if keys else {}
    return [(fields, accounts[fields[1]]) for fields in read], bad


class Migrator(exports.Migrator):
    def describe(self):
        return Manifest(
            app_key=APP_KEY,
            name="Python example: user labels",
            version="0.1.0",
            tables=[TABLE],
            namespaces=[USER],
            scopes=[DataScope.APP_DATA_PII],
            outputs=[OutputKind.ENTITY_PROPERTY],
            limits=RequestedLimits(fuel_per_batch=None, memory_bytes=None, batch_rows=None),
        )

    def analyze_batch(self, table, rows):
        resolved, bad = _resolved(rows)
        findings = [
            Finding(severity=Severity.FATAL, code="bad-row", message=e.message, row_id=e.row_id)
            for e in bad
        ]
        findings += [
            Finding(
                severity=Severity.FATAL,
                code="unknown-user",
                message="the label's user key has no identity:user mapping: migrate the user first",
                row_id=fields[0],
            )
            for fields, account in resolved
            if account is None
        ]
        return findings

    def migrate_batch(self, table, rows):
        if table != TABLE:
            raise Err(PluginError(code="unknown-table", message=f"not a table of this plugin: {table}", row_id=None))
        resolved, bad = _resolved(rows)
        if bad:
            raise Err(PluginError(code="bad-row", message=bad[0].message, row_id=bad[0].row_id))
        outputs = []
        for (row_id, _, label, color), account in resolved:
            if account is None:
                raise Err(
                    PluginError(
                        code="unknown-user",
                        message="the label's user key has no identity:user mapping",
                        row_id=row_id,
                    )
                )
            value = json.dumps({"id": row_id, "label": label, "color": color}, sort_keys=True)
            outputs.append(
                Output_EntityProperty(
                    EntityProperty(
                        entity=EntityKind.USER,
                        entity_id=account,
                        key=f"{PROPERTY_KEY}.{row_id}",
                        value=value,
                    )
                )
            )
        log.write(log.Level.DEBUG, f"{len(outputs)} labels migrated")
        return outputs
