use std::io::{Cursor, Read as _, Write};

use airlock_model::Value;

use super::*;

/// An activeobjects.xml shaped like the ones real Jira sites write.
const REAL_AO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<backup xmlns="http://www.atlassian.com/ao" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <database>
        <meta key="database.name" value="PostgreSQL"/>
        <meta key="database.version" value="9.3.5"/>
        <meta key="driver.name" value="PostgreSQL Native Driver"/>
    </database>
    <table name="AO_09EAEF_TEAM">
        <column name="CREATED" primaryKey="false" autoIncrement="false" sqlType="93" precision="29" scale="6"/>
        <column name="DESCRIPTION" primaryKey="false" autoIncrement="false" sqlType="2005" precision="2147483647"/>
        <column name="ID" primaryKey="true" autoIncrement="true" sqlType="-5" precision="19"/>
        <column name="LEAD_USER_KEY" primaryKey="false" autoIncrement="false" sqlType="12" precision="255"/>
        <column name="NAME" primaryKey="false" autoIncrement="false" sqlType="12" precision="255"/>
    </table>
    <table name="AO_09EAEF_TEAM_PERIOD">
        <column name="CAPACITY_HOURS" primaryKey="false" autoIncrement="false" sqlType="8" precision="17" scale="17"/>
        <column name="ID" primaryKey="true" autoIncrement="true" sqlType="-5" precision="19"/>
        <column name="OPEN" primaryKey="false" autoIncrement="false" sqlType="-7" precision="1"/>
        <column name="TEAM_ID" primaryKey="false" autoIncrement="false" sqlType="-5" precision="19"/>
        <foreignKey fromTable="AO_09EAEF_TEAM_PERIOD" fromColumn="TEAM_ID" toTable="AO_09EAEF_TEAM" toColumn="ID"/>
    </table>
    <table name="AO_60DB71_RAPIDVIEW">
        <column name="ID" primaryKey="true" autoIncrement="true" sqlType="-5" precision="19"/>
        <column name="NAME" primaryKey="false" autoIncrement="false" sqlType="12" precision="255"/>
    </table>
    <data tableName="AO_09EAEF_TEAM">
        <column name="CREATED"/>
        <column name="DESCRIPTION"/>
        <column name="ID"/>
        <column name="LEAD_USER_KEY"/>
        <column name="NAME"/>
        <row>
            <timestamp>2014-09-04T06:36:33.057Z</timestamp>
            <string xsi:nil="true"/>
            <integer>1</integer>
            <string>JIRAUSER10000</string>
            <string>R&amp;D &lt;core&gt;</string>
        </row>
        <row>
            <timestamp>2015-01-01T00:00:00.000Z</timestamp>
            <string/>
            <integer>2</integer>
            <string xsi:nil="true"/>
            <string>Support</string>
        </row>
    </data>
    <data tableName="AO_60DB71_RAPIDVIEW">
        <column name="ID"/>
        <column name="NAME"/>
        <row>
            <integer>1</integer>
            <string>Board</string>
        </row>
    </data>
    <data tableName="AO_09EAEF_TEAM_PERIOD">
        <column name="CAPACITY_HOURS"/>
        <column name="ID"/>
        <column name="OPEN"/>
        <column name="TEAM_ID"/>
        <row>
            <double>120.5</double>
            <integer>1</integer>
            <boolean>true</boolean>
            <integer>1</integer>
        </row>
        <row>
            <double xsi:nil="true"/>
            <integer>2</integer>
            <boolean>false</boolean>
            <integer xsi:nil="true"/>
        </row>
    </data>
</backup>
"#;

/// An entities.xml shaped like a real one, with the system-information comment and long
/// text as CDATA children.
const REAL_ENTITIES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>

<!--
    Exported from Jira 8.20.10 (820010) by admin
    Database: postgres72, license hash: s3cr3t-not-logged
-->
<entity-engine-xml>
    <ApplicationUser id="10000" userKey="JIRAUSER10000" lowerUserName="jsmith"/>
    <Issue id="10000" project="10000" number="1" type="10001" summary="Login &quot;fails&quot; &amp; crashes" reporter="JIRAUSER10000" created="2014-09-02 17:42:48.053">
        <description><![CDATA[Steps:
1. open <login>
2. type & submit]]></description>
    </Issue>
    <Action id="10100" issue="10000" author="JIRAUSER10000" type="comment" created="2014-09-02 17:42:48.0">
        <body><![CDATA[Seen it ]]]]><![CDATA[> too]]></body>
    </Action>
</entity-engine-xml>
"#;

fn ao_reader(text: &str) -> Result<AoReader<Cursor<Vec<u8>>>, BackupError> {
    AoReader::new(Cursor::new(text.as_bytes().to_vec()), ACTIVE_OBJECTS_XML)
}

fn all_rows(text: &str) -> Result<Vec<AoBatch>, BackupError> {
    let mut reader = ao_reader(text)?;
    reader.batches(1000, |_| true).collect()
}

/// The 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> u64 {
    let at = text.find(needle).expect("needle in text");
    text[..at].matches('\n').count() as u64 + 1
}

#[test]
fn real_looking_active_objects_parse() {
    let mut reader = ao_reader(REAL_AO).unwrap();
    assert_eq!(
        reader.database_meta()[0],
        ("database.name".into(), "PostgreSQL".into())
    );
    let names: Vec<_> = reader.tables().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "AO_09EAEF_TEAM",
            "AO_09EAEF_TEAM_PERIOD",
            "AO_60DB71_RAPIDVIEW"
        ]
    );
    let team = reader.table("AO_09EAEF_TEAM").unwrap();
    let id = team.column("ID").unwrap();
    assert!(id.primary_key && id.auto_increment);
    assert_eq!(
        (id.sql_type, id.precision, id.scale),
        (sql_type::BIGINT, Some(19), None)
    );
    assert_eq!(team.column("CREATED").unwrap().scale, Some(6));
    let period = reader.table("AO_09EAEF_TEAM_PERIOD").unwrap();
    assert_eq!(
        period.foreign_keys,
        [AoForeignKey {
            from_table: "AO_09EAEF_TEAM_PERIOD".into(),
            from_column: "TEAM_ID".into(),
            to_table: "AO_09EAEF_TEAM".into(),
            to_column: "ID".into(),
        }]
    );

    let prefix = airlock_model::AppKey::new("com.actonic.jira.timesheet-builder").ao_prefix();
    let batches: Vec<_> = reader
        .batches(1, |t| prefix.owns(t))
        .collect::<Result<_, _>>()
        .unwrap();
    let shape: Vec<_> = batches
        .iter()
        .map(|b| (b.table.as_str(), b.offset, b.rows.len()))
        .collect();
    assert_eq!(
        shape,
        [
            ("AO_09EAEF_TEAM", 0, 1),
            ("AO_09EAEF_TEAM", 1, 1),
            ("AO_09EAEF_TEAM_PERIOD", 0, 1),
            ("AO_09EAEF_TEAM_PERIOD", 1, 1)
        ]
    );
    assert_eq!(
        batches[0].rows[0],
        [
            Value::Timestamp(1_409_812_593_057),
            Value::Null,
            Value::Integer(1),
            Value::String("JIRAUSER10000".into()),
            Value::String("R&D <core>".into()),
        ]
    );
    assert_eq!(batches[1].rows[0][1], Value::String(String::new()));
    assert_eq!(batches[1].column_index("NAME"), Some(4));
    assert_eq!(
        batches[2].rows[0],
        [
            Value::Double(120.5),
            Value::Integer(1),
            Value::Boolean(true),
            Value::Integer(1)
        ]
    );
    assert_eq!(
        batches[3].rows[0],
        [
            Value::Null,
            Value::Integer(2),
            Value::Boolean(false),
            Value::Null
        ]
    );
    // The stream is over, and stays over.
    assert!(reader.next_batch(10, |_| true).unwrap().is_none());
}

#[test]
fn real_looking_entities_parse() {
    let mut reader =
        EntityReader::new(Cursor::new(REAL_ENTITIES.as_bytes()), ENTITIES_XML).unwrap();
    let user = reader.next_entity().unwrap().unwrap();
    assert_eq!(user.name, "ApplicationUser");
    assert_eq!(user.get("userKey"), Some("JIRAUSER10000"));
    assert_eq!(user.line, line_of(REAL_ENTITIES, "<ApplicationUser"));
    let issue = reader.next_entity().unwrap().unwrap();
    assert_eq!(issue.get("summary"), Some("Login \"fails\" & crashes"));
    assert_eq!(
        issue.get("description"),
        Some("Steps:\n1. open <login>\n2. type & submit")
    );
    assert_eq!(issue.get("number"), Some("1"));
    assert_eq!(
        parse_entity_date(issue.get("created").unwrap())
            .and_then(format_entity_date)
            .as_deref(),
        Some("2014-09-02 17:42:48.053")
    );
    let comment = reader.next_entity().unwrap().unwrap();
    assert_eq!(comment.get("body"), Some("Seen it ]]> too"));
    assert_eq!(comment.get("type"), Some("comment"));
    assert!(reader.next_entity().unwrap().is_none());
    assert!(reader.next_entity().unwrap().is_none());
}

#[test]
fn entity_filter_skips_other_entities() {
    let reader = EntityReader::new(Cursor::new(REAL_ENTITIES.as_bytes()), ENTITIES_XML).unwrap();
    let mut reader = reader;
    let mut names = Vec::new();
    while let Some(entity) = reader.next_entity_where(|name| name != "Issue").unwrap() {
        names.push(entity.name);
    }
    assert_eq!(names, ["ApplicationUser", "Action"]);
}

fn sample_tables() -> Vec<AoTable> {
    let column = |name: &str, sql_type: i32, precision: Option<i32>| AoColumn {
        name: name.into(),
        primary_key: name == "ID",
        auto_increment: name == "ID",
        sql_type,
        precision,
        scale: None,
    };
    vec![
        AoTable {
            name: "AO_09EAEF_TEAM".into(),
            columns: vec![
                column("ID", sql_type::BIGINT, Some(19)),
                column("NAME", sql_type::VARCHAR, Some(255)),
                column("CAPACITY", sql_type::DOUBLE, None),
                column("ACTIVE", sql_type::BIT, Some(1)),
                column("CREATED", sql_type::TIMESTAMP, None),
            ],
            foreign_keys: vec![],
        },
        AoTable {
            name: "AO_09EAEF_MEMBER".into(),
            columns: vec![
                column("ID", sql_type::BIGINT, Some(19)),
                column("TEAM_ID", sql_type::BIGINT, Some(19)),
            ],
            foreign_keys: vec![AoForeignKey {
                from_table: "AO_09EAEF_MEMBER".into(),
                from_column: "TEAM_ID".into(),
                to_table: "AO_09EAEF_TEAM".into(),
                to_column: "ID".into(),
            }],
        },
        AoTable {
            name: "AO_60DB71_SPRINT".into(),
            columns: vec![column("ID", sql_type::BIGINT, Some(19))],
            foreign_keys: vec![],
        },
    ]
}

fn tricky_rows() -> Vec<Vec<Value>> {
    vec![
        vec![
            Value::Integer(i64::MAX),
            Value::String("a<b>&c \"quoted\" 'single' ]]> \r\n\ttabbed ünïcödé 🎉".into()),
            Value::Double(0.1),
            Value::Boolean(true),
            Value::Timestamp(1_409_812_593_057),
        ],
        vec![
            Value::Integer(i64::MIN),
            Value::String(String::new()),
            Value::Double(-1e300),
            Value::Boolean(false),
            Value::Timestamp(-1),
        ],
        vec![
            Value::Integer(0),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::Integer(3),
            Value::String("  padded  ".into()),
            Value::Double(f64::INFINITY),
            Value::Null,
            Value::Timestamp(0),
        ],
        vec![
            Value::Integer(4),
            Value::String("x".into()),
            Value::Double(f64::NEG_INFINITY),
            Value::Null,
            Value::Timestamp(0),
        ],
    ]
}

fn write_sample() -> Vec<u8> {
    let mut writer = AoWriter::new(Vec::new()).unwrap();
    writer.database_meta(&[("database.name", "H2")]).unwrap();
    for table in sample_tables() {
        writer.table(&table).unwrap();
    }
    writer.begin_data("AO_09EAEF_TEAM").unwrap();
    for row in tricky_rows() {
        writer.row(&row).unwrap();
    }
    writer.begin_data("AO_60DB71_SPRINT").unwrap();
    for id in 1..=3 {
        writer.row(&[Value::Integer(id)]).unwrap();
    }
    // A defined table with no rows still gets its (empty) section, as in real backups.
    writer.begin_data("AO_09EAEF_MEMBER").unwrap();
    writer.finish().unwrap()
}

#[test]
fn writer_round_trips_through_reader() {
    let bytes = write_sample();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("<string xsi:nil=\"true\"/>"));
    assert!(
        text.contains("<double xsi:nil=\"true\"/>"),
        "nulls typed by sqlType"
    );
    assert!(text.contains("<timestamp>2014-09-04T06:36:33.057Z</timestamp>"));

    let mut reader = AoReader::new(Cursor::new(bytes), ACTIVE_OBJECTS_XML).unwrap();
    assert_eq!(reader.tables(), sample_tables().as_slice());
    assert_eq!(
        reader.database_meta(),
        [("database.name".to_string(), "H2".to_string())]
    );
    let batches: Vec<_> = reader
        .batches(2, |_| true)
        .collect::<Result<_, _>>()
        .unwrap();
    let shape: Vec<_> = batches
        .iter()
        .map(|b| (b.table.as_str(), b.offset, b.rows.len()))
        .collect();
    assert_eq!(
        shape,
        [
            ("AO_09EAEF_TEAM", 0, 2),
            ("AO_09EAEF_TEAM", 2, 2),
            ("AO_09EAEF_TEAM", 4, 1),
            ("AO_60DB71_SPRINT", 0, 2),
            ("AO_60DB71_SPRINT", 2, 1)
        ]
    );
    let rows: Vec<_> = batches[..3].iter().flat_map(|b| b.rows.clone()).collect();
    assert_eq!(rows, tricky_rows());
    assert_eq!(
        &*batches[0].columns,
        ["ID", "NAME", "CAPACITY", "ACTIVE", "CREATED"]
    );
}

#[test]
fn filter_skips_tables_without_reading_their_rows() {
    let bytes = write_sample();
    let mut reader = AoReader::new(Cursor::new(bytes), ACTIVE_OBJECTS_XML).unwrap();
    let mut asked = Vec::new();
    let batches: Vec<_> = reader
        .batches(100, |t| {
            asked.push(t.to_owned());
            t.starts_with("AO_60DB71_")
        })
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].rows.len(), 3);
    // Asked once per section, whether or not it has rows.
    assert_eq!(
        asked,
        ["AO_09EAEF_TEAM", "AO_60DB71_SPRINT", "AO_09EAEF_MEMBER"]
    );
}

#[test]
fn skipped_sections_are_counted_by_table_for_the_coverage_ledger() {
    let bytes = write_sample();
    let mut reader = AoReader::new(Cursor::new(bytes), ACTIVE_OBJECTS_XML).unwrap();
    let read: usize = reader
        .batches(100, |t| t.starts_with("AO_60DB71_"))
        .map(|b| b.unwrap().rows.len())
        .sum();
    assert_eq!(read, 3);
    let skipped: std::collections::BTreeMap<_, _> =
        reader.skipped_sections().iter().cloned().collect();
    let expected = write_sample_rows()
        .into_iter()
        .filter(|(t, _)| !t.starts_with("AO_60DB71_"))
        .collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(skipped, expected);
    assert_eq!(reader.skipped_overflow_rows(), 0);
}

/// Rows per table of [`write_sample`], counted from its text.
fn write_sample_rows() -> Vec<(String, u64)> {
    let text = String::from_utf8(write_sample()).unwrap();
    let mut out: Vec<(String, u64)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.trim().strip_prefix("<data tableName=\"") {
            out.push((rest.split('"').next().unwrap().to_owned(), 0));
        } else if line.trim().starts_with("<row") {
            out.last_mut().unwrap().1 += 1;
        }
    }
    out
}

/// Jira writes U+0003, U+001D and U+001E raw into exports, though XML 1.0 forbids them:
/// the reader keeps them, in attributes, text and CDATA alike.
#[test]
fn control_characters_jira_writes_raw_are_read() {
    let text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<entity-engine-xml>\n    \
        <Action id=\"1\" body=\"a\u{3}b\u{1D}c\u{1E}d\"/>\n    \
        <Action id=\"2\">\n        <body><![CDATA[e\u{3}f\u{1D}g\u{1E}h]]></body>\n    </Action>\n    \
        <Issue id=\"3\">\n        <summary>i\u{3}j\u{1D}k\u{1E}l</summary>\n    </Issue>\n\
        </entity-engine-xml>\n";
    let rows: Vec<Entity> = EntityReader::new(Cursor::new(text.as_bytes()), ENTITIES_XML)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].get("body"), Some("a\u{3}b\u{1D}c\u{1E}d"));
    assert_eq!(rows[1].get("body"), Some("e\u{3}f\u{1D}g\u{1E}h"));
    assert_eq!(rows[2].get("summary"), Some("i\u{3}j\u{1D}k\u{1E}l"));
}

#[test]
fn skipped_sections_are_not_validated_but_must_be_well_formed() {
    let text = REAL_AO.replace("<string>Board</string>", "<float>1</float>");
    let mut reader = ao_reader(&text).unwrap();
    let rows: usize = reader
        .batches(10, |t| t != "AO_60DB71_RAPIDVIEW")
        .map(|b| b.unwrap().rows.len())
        .sum();
    assert_eq!(rows, 4);

    let text = REAL_AO.replace("<string>Board</string>", "<string>Board</strin>");
    let mut reader = ao_reader(&text).unwrap();
    let err = reader
        .batches(10, |t| t != "AO_60DB71_RAPIDVIEW")
        .find_map(Result::err)
        .expect("malformed XML in a skipped section is still an error");
    assert!(matches!(err, BackupError::Xml { .. }), "{err}");
}

/// Reads everything and returns the first error.
fn first_error(text: &str) -> BackupError {
    match all_rows(text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn assert_names(err: &BackupError, file: &str, line: u64, fragments: &[&str]) {
    let message = err.to_string();
    assert_eq!(err.file(), Some(file), "{message}");
    assert_eq!(err.line(), Some(line), "{message}");
    assert!(
        message.contains(&format!("{file}, line {line}")),
        "{message}"
    );
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "`{fragment}` missing from: {message}"
        );
    }
}

#[test]
fn malformed_xml_names_file_and_line() {
    let text = REAL_AO.replace("<string>Support</string>", "<string>Support</strng>");
    let err = first_error(&text);
    assert!(matches!(err, BackupError::Xml { .. }), "{err}");
    assert_names(
        &err,
        ACTIVE_OBJECTS_XML,
        line_of(&text, "</strng>"),
        &["AO_09EAEF_TEAM", "malformed XML"],
    );
}

#[test]
fn unknown_value_element_is_an_error() {
    let text = REAL_AO.replace("<double>120.5</double>", "<float>120.5</float>");
    let err = first_error(&text);
    assert_names(
        &err,
        ACTIVE_OBJECTS_XML,
        line_of(&text, "<float>"),
        &[
            "AO_09EAEF_TEAM_PERIOD",
            "row 1",
            "column CAPACITY_HOURS",
            "unknown value element <float>",
        ],
    );
}

#[test]
fn wrong_number_of_values_is_an_error() {
    let text = REAL_AO.replace("            <boolean>false</boolean>\n", "");
    let err = first_error(&text);
    let line = line_of(&text, "<double xsi:nil") + 3;
    assert_names(
        &err,
        ACTIVE_OBJECTS_XML,
        line,
        &["AO_09EAEF_TEAM_PERIOD", "row 2", "3 values", "4 columns"],
    );

    let text = REAL_AO.replace(
        "<integer>1</integer>\n            <string>Board</string>",
        "<integer>1</integer>\n            <string>Board</string><string>extra</string>",
    );
    let err = first_error(&text);
    assert_names(
        &err,
        ACTIVE_OBJECTS_XML,
        line_of(&text, "<string>extra") + 1,
        &["AO_60DB71_RAPIDVIEW", "3 values", "2 columns"],
    );
}

#[test]
fn unparsable_values_are_errors_that_do_not_quote_the_value() {
    let cases = [
        (
            "<integer>2</integer>",
            "<integer>2x-secret</integer>",
            "<integer> value",
        ),
        (
            "<double>120.5</double>",
            "<double>12,5-secret</double>",
            "<double> value",
        ),
        (
            "<boolean>true</boolean>",
            "<boolean>yes-secret</boolean>",
            "<boolean> value",
        ),
        (
            "<timestamp>2015-01-01T00:00:00.000Z</timestamp>",
            "<timestamp>01/01/2015-secret</timestamp>",
            "<timestamp> value",
        ),
        ("<integer>2</integer>", "<integer/>", "empty <integer>"),
    ];
    for (from, to, fragment) in cases {
        let text = REAL_AO.replacen(from, to, 1);
        let err = first_error(&text);
        assert!(matches!(err, BackupError::Invalid { .. }), "{err}");
        assert_names(
            &err,
            ACTIVE_OBJECTS_XML,
            line_of(&text, to),
            &[fragment, "row "],
        );
        assert!(
            !err.to_string().contains("secret"),
            "a value leaked into: {err}"
        );
    }
}

#[test]
fn truncated_files_are_errors() {
    for cut in [10, REAL_AO.len() / 3, REAL_AO.len() / 2, REAL_AO.len() - 20] {
        let text = &REAL_AO[..cut];
        let err = first_error(text);
        assert_eq!(err.file(), Some(ACTIVE_OBJECTS_XML), "{err}");
        assert!(err.line().is_some(), "{err}");
    }
    let err = ao_reader("").err().unwrap();
    assert!(err.to_string().contains("no <backup> element"), "{err}");
    let err = EntityReader::new(
        Cursor::new(&REAL_ENTITIES.as_bytes()[..REAL_ENTITIES.len() - 30]),
        ENTITIES_XML,
    )
    .unwrap()
    .find_map(Result::err)
    .unwrap();
    assert_eq!(err.file(), Some(ENTITIES_XML), "{err}");
}

#[test]
fn wrong_root_is_an_error() {
    let err = ao_reader(REAL_ENTITIES).err().unwrap();
    assert!(
        err.to_string()
            .contains("root element is <entity-engine-xml>"),
        "{err}"
    );
    let err = EntityReader::new(Cursor::new(REAL_AO.as_bytes()), ENTITIES_XML)
        .err()
        .unwrap();
    assert!(err.to_string().contains("not <entity-engine-xml>"), "{err}");
}

#[test]
fn entities_are_never_expanded() {
    let text = REAL_AO
        .replacen(
            "<backup ",
            "<!DOCTYPE backup [<!ENTITY boom \"BOOM\">]>\n<backup ",
            1,
        )
        .replace("<string>Support</string>", "<string>&boom;</string>");
    let err = first_error(&text);
    assert_names(
        &err,
        ACTIVE_OBJECTS_XML,
        line_of(&text, "&boom;"),
        &["unknown entity reference &boom;"],
    );

    let text = REAL_ENTITIES.replace("lowerUserName=\"jsmith\"", "lowerUserName=\"&boom;\"");
    let err = EntityReader::new(Cursor::new(text.as_bytes()), ENTITIES_XML)
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert_names(
        &err,
        ENTITIES_XML,
        line_of(&text, "&boom;"),
        &["ApplicationUser"],
    );
}

#[test]
fn malformed_entities_name_file_and_line() {
    let text = REAL_ENTITIES.replace("</description>", "</descripton>");
    let err = EntityReader::new(Cursor::new(text.as_bytes()), ENTITIES_XML)
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert_names(
        &err,
        ENTITIES_XML,
        line_of(&text, "</descripton>"),
        &["<Issue>", "malformed XML"],
    );
}

#[test]
fn table_definitions_after_data_are_refused() {
    let text = REAL_AO.replace(
        "</backup>",
        "    <table name=\"AO_LATE\">\n    </table>\n</backup>",
    );
    let err = first_error(&text);
    assert_names(
        &err,
        ACTIVE_OBJECTS_XML,
        line_of(&text, "AO_LATE"),
        &["after the data sections"],
    );
}

#[test]
fn entities_writer_output_reads_back() {
    let mut writer = EntitiesWriter::new(Vec::new(), "Exported by a test -- with dashes-").unwrap();
    writer
        .entity("User", &[("id", "10000"), ("userName", "a\"b<c>&d\ne\tf")])
        .unwrap();
    writer
        .entity_with_text(
            "Issue",
            &[("id", "10001")],
            &[
                ("description", "line 1\nline ]]> 2 <b>&amp;</b>"),
                ("environment", "crlf\r\nkept"),
            ],
        )
        .unwrap();
    let bytes = writer.finish().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("<![CDATA[line 1"), "{text}");
    let entities: Vec<_> = EntityReader::new(Cursor::new(bytes), ENTITIES_XML)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(entities.len(), 2);
    assert_eq!(entities[0].get("userName"), Some("a\"b<c>&d\ne\tf"));
    assert_eq!(
        entities[1].get("description"),
        Some("line 1\nline ]]> 2 <b>&amp;</b>")
    );
    assert_eq!(entities[1].get("environment"), Some("crlf\r\nkept"));
    assert_eq!(entities[1].line, line_of(&text, "<Issue"));
}

#[test]
fn writers_refuse_what_xml_cannot_hold() {
    let mut writer = AoWriter::new(Vec::new()).unwrap();
    let tables = sample_tables();
    writer.table(&tables[2]).unwrap();
    writer.begin_data("AO_60DB71_SPRINT").unwrap();
    let err = writer.table(&tables[0]).unwrap_err();
    assert!(
        err.to_string().contains("before the first data section"),
        "{err}"
    );
    let err = writer
        .row(&[Value::Integer(1), Value::Integer(2)])
        .unwrap_err();
    assert!(err.to_string().contains("2 values for 1 columns"), "{err}");
    let err = writer.begin_data("AO_UNDEFINED").unwrap_err();
    assert!(err.to_string().contains("no definition"), "{err}");

    let mut writer = AoWriter::new(Vec::new()).unwrap();
    writer.table(&tables[0]).unwrap();
    writer.begin_data("AO_09EAEF_TEAM").unwrap();
    let row = [
        Value::Integer(1),
        Value::String("bell\u{7}".into()),
        Value::Null,
        Value::Null,
        Value::Null,
    ];
    let err = writer.row(&row).unwrap_err();
    assert!(err.to_string().contains("U+0007"), "{err}");
    let row = [
        Value::Integer(1),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Timestamp(i64::MAX),
    ];
    assert!(writer.row(&row).is_err());

    let mut writer = EntitiesWriter::new(Vec::new(), "").unwrap();
    assert!(writer.entity("Bad Name", &[]).is_err());
    assert!(writer.entity("Issue", &[("a b", "1")]).is_err());
    assert!(writer.entity("Issue", &[("id", "\u{0}")]).is_err());
}

fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn backup_zip_reads_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.zip");
    write_zip(
        &path,
        &[
            (ENTITIES_XML, REAL_ENTITIES.as_bytes()),
            (ACTIVE_OBJECTS_XML, REAL_AO.as_bytes()),
        ],
    );
    let mut backup = Backup::open(&path).unwrap();
    assert_eq!(backup.active_objects_size(), REAL_AO.len() as u64);
    assert_eq!(backup.entities_size(), REAL_ENTITIES.len() as u64);
    let rows: usize = backup
        .active_objects()
        .unwrap()
        .batches(10, |_| true)
        .map(|b| b.unwrap().rows.len())
        .sum();
    assert_eq!(rows, 5);
    assert_eq!(backup.entities().unwrap().count(), 3);
    // Readers can be opened again: each starts from the top.
    assert_eq!(backup.active_objects().unwrap().tables().len(), 3);
}

#[test]
fn backup_open_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();

    let err = Backup::open(dir.path().join("missing.zip")).unwrap_err();
    assert!(matches!(err, BackupError::Open { .. }), "{err}");

    let not_zip = dir.path().join("entities.xml");
    std::fs::write(&not_zip, REAL_ENTITIES).unwrap();
    let err = Backup::open(&not_zip).unwrap_err();
    assert!(matches!(err, BackupError::NotZip { .. }), "{err}");
    assert!(err.to_string().contains("not a readable zip"), "{err}");

    let only_entities = dir.path().join("only-entities.zip");
    write_zip(&only_entities, &[(ENTITIES_XML, REAL_ENTITIES.as_bytes())]);
    let err = Backup::open(&only_entities).unwrap_err();
    assert!(
        matches!(
            err,
            BackupError::MissingEntry {
                entry: ACTIVE_OBJECTS_XML,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("holds no activeobjects.xml"),
        "{err}"
    );

    let full = dir.path().join("full.zip");
    write_zip(
        &full,
        &[
            (ENTITIES_XML, REAL_ENTITIES.as_bytes()),
            (ACTIVE_OBJECTS_XML, REAL_AO.as_bytes()),
        ],
    );
    let bytes = std::fs::read(&full).unwrap();
    let truncated = dir.path().join("truncated.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = Backup::open(&truncated).unwrap_err();
    assert!(matches!(err, BackupError::NotZip { .. }), "{err}");
}

#[test]
fn corrupt_zip_data_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.zip");
    // Large enough that the compressed data is well past the local header.
    let mut big = String::from(REAL_AO);
    let rows: String = (0..2000)
        .map(|i| format!("        <row>\n            <integer>{i}</integer>\n            <string>board {i}</string>\n        </row>\n"))
        .collect();
    big = big.replace(
        "    </data>\n    <data tableName=\"AO_09EAEF_TEAM_PERIOD\">",
        &format!("{rows}    </data>\n    <data tableName=\"AO_09EAEF_TEAM_PERIOD\">"),
    );
    write_zip(
        &path,
        &[
            (ENTITIES_XML, REAL_ENTITIES.as_bytes()),
            (ACTIVE_OBJECTS_XML, big.as_bytes()),
        ],
    );
    let mut bytes = std::fs::read(&path).unwrap();
    let start = bytes.windows(4).rposition(|w| w == b"PK\x03\x04").unwrap() + 200;
    for b in &mut bytes[start..start + 64] {
        *b ^= 0x5A;
    }
    std::fs::write(&path, &bytes).unwrap();
    let mut backup = Backup::open(&path).unwrap();
    let result = backup
        .active_objects()
        .and_then(|mut ao| ao.batches(100, |_| true).try_for_each(|b| b.map(drop)));
    let err = result.expect_err("corruption must be noticed");
    assert_eq!(err.file(), Some(ACTIVE_OBJECTS_XML), "{err}");
}

// ---- Limits: no element, value or row is held in memory past MAX_ELEMENT_BYTES ----

/// Counts the bytes allocated by each thread, so a test can bound what reading costs it
/// while other tests run on other threads.
struct CountingAllocator;

thread_local! {
    /// (allocated now, peak since the last `peak_allocation` started) on this thread.
    static ALLOCATED: std::cell::Cell<(isize, isize)> = const { std::cell::Cell::new((0, 0)) };
}

fn count_allocation(delta: isize) {
    let _ = ALLOCATED.try_with(|cell| {
        let (now, peak) = cell.get();
        let now = now + delta;
        cell.set((now, peak.max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counted.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            count_allocation(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if !p.is_null() {
            count_allocation(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as `alloc`.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        count_allocation(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count_allocation(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Runs `f` and returns its result with the most it had allocated at once (on this thread).
fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = ALLOCATED.with(|cell| {
        let (now, _) = cell.get();
        cell.set((now, now));
        now
    });
    let result = f();
    let peak = ALLOCATED.with(|cell| cell.get().1);
    (result, (peak - start).max(0) as usize)
}

/// `chunk` over and over, `len` bytes in all: a large input that never exists in memory.
struct Cycle {
    chunk: Vec<u8>,
    at: usize,
    left: u64,
}

impl Cycle {
    fn new(chunk: impl Into<Vec<u8>>, len: u64) -> Cycle {
        Cycle {
            chunk: chunk.into(),
            at: 0,
            left: len,
        }
    }
}

impl std::io::Read for Cycle {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out
            .len()
            .min(self.chunk.len() - self.at)
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at = (self.at + n) % self.chunk.len();
        self.left -= n as u64;
        Ok(n)
    }
}

/// `prefix`, then `filler`, then `suffix`, streamed as the zip entry is (64 KiB reads).
fn streamed(prefix: &str, filler: impl std::io::Read, suffix: &str) -> impl std::io::BufRead {
    let input = Cursor::new(prefix.as_bytes().to_vec())
        .chain(filler)
        .chain(Cursor::new(suffix.as_bytes().to_vec()));
    std::io::BufReader::with_capacity(64 * 1024, input)
}

/// Three times the limit: today's reader would hold all of it.
const HUGE: u64 = 3 * MAX_ELEMENT_BYTES as u64;

/// The element is refused once it passes the limit, and reading it held no more than the
/// limit (plus a little): not the whole input.
fn assert_refused_in_bounded_memory(
    read: impl FnOnce() -> Result<(), BackupError>,
    file: &str,
    line: u64,
    fragments: &[&str],
) {
    assert_refused_within(1, read, file, line, fragments);
}

/// As [`assert_refused_in_bounded_memory`], within `limits` times the limit (plus a
/// little): a row's values are kept, besides the parser's buffer and the text scratch.
fn assert_refused_within(
    limits: usize,
    read: impl FnOnce() -> Result<(), BackupError>,
    file: &str,
    line: u64,
    fragments: &[&str],
) {
    let (result, peak) = peak_allocation(read);
    let err = result.expect_err("an element over the limit is refused");
    assert!(matches!(err, BackupError::TooLarge { .. }), "{err}");
    assert_names(&err, file, line, fragments);
    assert!(
        err.to_string()
            .contains("corrupt or was made to exhaust memory"),
        "{err}"
    );
    assert!(
        peak <= limits * MAX_ELEMENT_BYTES + MAX_ELEMENT_BYTES / 4,
        "reading allocated {} MiB at once",
        peak >> 20
    );
}

const ENTITIES_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<entity-engine-xml>\n    <ApplicationUser id=\"10000\" userKey=\"JIRAUSER10000\"/>\n";

#[test]
fn an_oversized_attribute_in_entities_xml_is_refused_in_bounded_memory() {
    let prefix = format!("{ENTITIES_HEAD}    <Issue id=\"10000\" summary=\"");
    let line = line_of(&prefix, "<Issue");
    for wanted in [true, false] {
        // Wanted or streamed past (skipped entities are bounded the same way).
        assert_refused_in_bounded_memory(
            || {
                let input = streamed(
                    &prefix,
                    std::io::repeat(b'a').take(HUGE),
                    "\"/>\n</entity-engine-xml>\n",
                );
                let mut reader = EntityReader::new(input, ENTITIES_XML)?;
                while reader
                    .next_entity_where(|name| wanted || name != "Issue")?
                    .is_some()
                {}
                Ok(())
            },
            ENTITIES_XML,
            line,
            &["larger than 32 MiB", "start tag"],
        );
    }
}

#[test]
fn an_oversized_text_in_entities_xml_is_refused_in_bounded_memory() {
    let prefix = format!("{ENTITIES_HEAD}    <Issue id=\"10000\">\n        <description>");
    let line = line_of(&prefix, "<description>");
    let suffix = "</description>\n    </Issue>\n</entity-engine-xml>\n";
    // One text node; then CDATA sections of 1 MiB, each within the limit, that add up.
    let cdata = format!("<![CDATA[{}]]>", "a".repeat(1 << 20));
    let fillers: [(Box<dyn std::io::Read>, &str); 2] = [
        (
            Box::new(std::io::repeat(b'a').take(HUGE)),
            "larger than 32 MiB",
        ),
        (
            Box::new(Cycle::new(cdata.as_bytes(), cdata.len() as u64 * 96)),
            "more than 32 MiB of text",
        ),
    ];
    for (filler, says) in fillers {
        assert_refused_in_bounded_memory(
            || {
                let mut reader =
                    EntityReader::new(streamed(&prefix, filler, suffix), ENTITIES_XML)?;
                while reader.next_entity()?.is_some() {}
                Ok(())
            },
            ENTITIES_XML,
            line,
            &["<Issue>", says],
        );
    }
}

/// The text around the first row's fourth value (a `<string>`) of an activeobjects.xml.
fn ao_with_value() -> (String, &'static str) {
    let head = REAL_AO
        .split("            <string>JIRAUSER10000</string>")
        .next()
        .unwrap();
    (
        format!("{head}            <string>"),
        "</string>\n            <string>Name</string>\n        </row>\n    </data>\n</backup>\n",
    )
}

#[test]
fn an_oversized_value_in_activeobjects_xml_is_refused_in_bounded_memory() {
    let (prefix, suffix) = ao_with_value();
    let line = prefix.matches('\n').count() as u64 + 1;
    assert_refused_in_bounded_memory(
        || {
            let input = streamed(&prefix, std::io::repeat(b'a').take(HUGE), suffix);
            let mut reader = AoReader::new(input, ACTIVE_OBJECTS_XML)?;
            reader.batches(10, |_| true).try_for_each(|b| b.map(drop))
        },
        ACTIVE_OBJECTS_XML,
        line,
        &["AO_09EAEF_TEAM", "row 1", "larger than 32 MiB"],
    );
}

#[test]
fn a_row_adding_up_past_the_limit_is_refused() {
    // Two values of 20 MiB: each fits, the row does not.
    let (prefix, _) = ao_with_value();
    let line = prefix.matches('\n').count() as u64 + 2;
    // The parser's buffer, the text scratch and the first value.
    assert_refused_within(
        3,
        || {
            let input = streamed(
                &prefix,
                std::io::repeat(b'a')
                    .take(20 << 20)
                    .chain(&b"</string>\n            <string>"[..])
                    .chain(std::io::repeat(b'b').take(20 << 20)),
                "</string>\n        </row>\n    </data>\n</backup>\n",
            );
            let mut reader = AoReader::new(input, ACTIVE_OBJECTS_XML)?;
            reader.batches(10, |_| true).try_for_each(|b| b.map(drop))
        },
        ACTIVE_OBJECTS_XML,
        line,
        &["row 1, value 5 (column NAME)", "more than 32 MiB of text"],
    );
}

#[test]
fn too_many_attributes_or_columns_are_refused() {
    let attrs: String = (0..300).map(|i| format!(" a{i}=\"\"")).collect();
    let text = REAL_ENTITIES.replace(
        "<Issue id=\"10000\"",
        &format!("<Issue{attrs} id=\"10000\""),
    );
    let err = EntityReader::new(Cursor::new(text.as_bytes()), ENTITIES_XML)
        .unwrap()
        .find_map(Result::err)
        .unwrap();
    assert!(matches!(err, BackupError::TooLarge { .. }), "{err}");
    assert_names(
        &err,
        ENTITIES_XML,
        line_of(&text, "<Issue"),
        &["<Issue>", "more than 256 attributes"],
    );

    let columns: String = (0..1100)
        .map(|i| format!("        <column name=\"C{i}\"/>\n"))
        .collect();
    let text = REAL_AO.replace(
        "<data tableName=\"AO_60DB71_RAPIDVIEW\">\n",
        &format!("<data tableName=\"AO_60DB71_RAPIDVIEW\">\n{columns}"),
    );
    let err = first_error(&text);
    assert!(matches!(err, BackupError::TooLarge { .. }), "{err}");
    assert_names(
        &err,
        ACTIVE_OBJECTS_XML,
        line_of(&text, "\"C1024\""),
        &["AO_60DB71_RAPIDVIEW", "more than 1024 columns"],
    );
}

#[test]
fn batches_of_large_rows_end_early() {
    // Rows of 10 MiB: a batch stops once it holds 32 MiB, whatever its row count.
    let row = format!(
        "        <row>\n            <integer>1</integer>\n            <string>{}</string>\n        </row>\n",
        "x".repeat(10 << 20)
    );
    let text = REAL_AO.replace(
        "        <row>\n            <integer>1</integer>\n            <string>Board</string>\n        </row>\n",
        &row.repeat(5),
    );
    let mut reader = ao_reader(&text).unwrap();
    let sizes: Vec<(u64, usize)> = reader
        .batches(1000, |t| t == "AO_60DB71_RAPIDVIEW")
        .map(|b| b.map(|b| (b.offset, b.rows.len())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sizes, [(0, 4), (4, 1)]);
}
