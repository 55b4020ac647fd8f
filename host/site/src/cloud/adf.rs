//! Atlassian Document Format, as far as Airlock needs it: plain text becomes one
//! paragraph per line, and back.

use serde_json::{Value, json};

/// Plain text as an ADF document: one paragraph per line (an empty line, an empty
/// paragraph).
pub fn from_text(text: &str) -> Value {
    let content: Vec<Value> = text
        .split('\n')
        .map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                json!({ "type": "paragraph", "content": [] })
            } else {
                json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] })
            }
        })
        .collect();
    json!({ "version": 1, "type": "doc", "content": content })
}

/// The text of an ADF document: its blocks' text, one line per block (`hardBreak`s are
/// line breaks too). `None` if the value is not an ADF document.
pub fn to_text(doc: &Value) -> Option<String> {
    if doc.get("type").and_then(Value::as_str) != Some("doc") {
        return None;
    }
    let blocks = doc.get("content")?.as_array()?;
    let mut lines = Vec::with_capacity(blocks.len());
    for block in blocks {
        let mut line = String::new();
        inline_text(block, &mut line);
        lines.push(line);
    }
    Some(lines.join("\n"))
}

fn inline_text(node: &Value, out: &mut String) {
    match node.get("type").and_then(Value::as_str) {
        Some("text") => out.push_str(node.get("text").and_then(Value::as_str).unwrap_or("")),
        Some("hardBreak") => out.push('\n'),
        _ => {
            if let Some(children) = node.get("content").and_then(Value::as_array) {
                for child in children {
                    inline_text(child, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        for text in ["one", "one\ntwo", "a\n\nb", "", "tail\n"] {
            assert_eq!(to_text(&from_text(text)).unwrap(), text);
        }
        assert_eq!(to_text(&from_text("x\r\ny")).unwrap(), "x\ny");
        assert_eq!(to_text(&json!("plain")), None);
    }
}
