// Airlock example plugin in JavaScript, written against wit/plugin.wit alone.
//
// Migrates Timesheet Builder's user labels (`AO_09EAEF_USER_LABEL`: USER_KEY, LABEL,
// COLOR) to a property on each labelled user's cloud account. Users are resolved in one
// `mappings.resolve` call per batch; a label whose user has no mapping is a finding in
// analysis and a plugin error in migration. A row it cannot read (a column absent, a
// value of the wrong type) is refused with `bad-row`: an uncaught exception would trap
// the batch with no explanation for the operator. (s64 values cross as BigInt.)

import { resolve } from "airlock:plugin/mappings@1.0.0";
import { write } from "airlock:plugin/log@1.0.0";

const APP_KEY = "com.actonic.jira.timesheet-builder";
const TABLE = "AO_09EAEF_USER_LABEL";
const USER = "identity:user";
const PROPERTY_KEY = "js-example.labels";

class BadRow {
  constructor(rowId, message) {
    this.rowId = rowId;
    this.message = message;
  }
}

// One row's fields, or a BadRow naming the problem.
function read(row) {
  const id = row.ID;
  if (!id || id.tag !== "integer") return new BadRow(undefined, "the row has no integer ID");
  const rowId = id.val;
  for (const column of ["USER_KEY", "LABEL", "COLOR"]) {
    if (!(column in row)) return new BadRow(rowId, `column ${column} is absent`);
  }
  if (row.USER_KEY.tag !== "string" || row.USER_KEY.val === "") {
    return new BadRow(rowId, "USER_KEY is not a user key");
  }
  const text = {};
  for (const column of ["LABEL", "COLOR"]) {
    const value = row[column];
    if (value.tag === "null") text[column] = null;
    else if (value.tag === "string") text[column] = value.val;
    else return new BadRow(rowId, `${column} is not text`);
  }
  return { rowId, user: row.USER_KEY.val, label: text.LABEL, color: text.COLOR };
}

// The batch's readable rows, each with its user's cloud account id (or undefined), and
// the rows it could not read.
function resolved(rows) {
  const width = rows.columns.length;
  const good = [];
  const bad = [];
  for (let start = 0; start < rows.values.length; start += width) {
    const row = {};
    rows.columns.forEach((column, j) => {
      row[column] = rows.values[start + j];
    });
    const fields = read(row);
    if (fields instanceof BadRow) bad.push(fields);
    else good.push(fields);
  }
  const keys = [...new Set(good.map((f) => f.user))].sort();
  const found = keys.length ? resolve(USER, keys) : [];
  const accounts = new Map(keys.map((key, i) => [key, found[i]]));
  return { good: good.map((f) => [f, accounts.get(f.user)]), bad };
}

export const migrator = {
  describe() {
    return {
      appKey: APP_KEY,
      name: "JavaScript example: user labels",
      version: "0.1.0",
      tables: [TABLE],
      namespaces: [USER],
      scopes: ["app-data-pii"],
      outputs: ["entity-property"],
      limits: {},
    };
  },

  analyzeBatch(table, rows) {
    const { good, bad } = resolved(rows);
    return [
      ...bad.map((e) => ({ severity: "fatal", code: "bad-row", message: e.message, rowId: e.rowId })),
      ...good
        .filter(([, account]) => account === undefined)
        .map(([f]) => ({
          severity: "fatal",
          code: "unknown-user",
          message: "the label's user key has no identity:user mapping: migrate the user first",
          rowId: f.rowId,
        })),
    ];
  },

  migrateBatch(table, rows) {
    if (table !== TABLE) {
      throw { code: "unknown-table", message: `not a table of this plugin: ${table}` };
    }
    const { good, bad } = resolved(rows);
    if (bad.length) {
      throw { code: "bad-row", message: bad[0].message, rowId: bad[0].rowId };
    }
    const outputs = good.map(([f, account]) => {
      if (account === undefined) {
        throw {
          code: "unknown-user",
          message: "the label's user key has no identity:user mapping",
          rowId: f.rowId,
        };
      }
      const id = Number(f.rowId);
      return {
        tag: "entity-property",
        val: {
          entity: "user",
          entityId: account,
          key: `${PROPERTY_KEY}.${f.rowId}`,
          value: JSON.stringify({ color: f.color, id, label: f.label }),
        },
      };
    });
    write("debug", `${outputs.length} labels migrated`);
    return outputs;
  },
};
