//! # airlock-jql: a JQL query's ids, from the server's to the cloud's
//!
//! Jira Data Center's JQL names objects by id in many places: `project = 10000`,
//! `status in (1, 10001)`, `assignee = JIRAUSER10100`, `cf[10100] ~ "x"`,
//! `fixVersion = 10200`, `sprint = 7`, `filter = 10300`, `ORDER BY cf[10100]`. After a
//! migration those ids are the cloud's. [`rewrite`] walks a query token by token, knows
//! which field each value belongs to, and asks the caller for each id's cloud id in the
//! field's mapping namespace. What it cannot map stays as it was and is listed
//! ([`Rewritten::unresolved`]) so an operator (or a plugin) can say so.
//!
//! Names are left alone (`project = ACME`, `status = "In Progress"`): keys and names are
//! kept by the migration. Function calls (`membersOf("devs")`, `currentUser()`) and dates
//! are left alone. Quoting is kept: a quoted value stays quoted, a bare one bare if it can.
//!
//! Architecture invariant: no I/O; the caller resolves.

use airlock_model::Namespace;

/// The longest query [`rewrite`] takes (Jira's own saved-filter limit is far below it).
pub const MAX_QUERY_BYTES: usize = 64 << 10;

/// A query with its ids rewritten.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rewritten {
    pub query: String,
    /// How many ids were replaced.
    pub rewritten: usize,
    /// The ids that were left as they were, in query order.
    pub unresolved: Vec<Unresolved>,
}

/// An id the query names that has no cloud id (not migrated, or not resolvable here).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Unresolved {
    /// The field as the query spells it (`project`, `cf[10100]`, `assignee`…).
    pub field: String,
    #[serde(serialize_with = "as_str")]
    pub namespace: Namespace,
    pub id: String,
}

fn as_str<S: serde::Serializer>(ns: &Namespace, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(ns.as_str())
}

/// A query that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JqlError {
    #[error("the query is {0} bytes; at most {MAX_QUERY_BYTES} are rewritten")]
    TooLong(usize),
    #[error("the quoted value starting at byte {0} is never closed")]
    UnterminatedString(usize),
}

/// Rewrites the ids of `query`. `resolve(namespace, id)` answers an id's cloud id, or
/// `None` (then the id stays and is listed as unresolved).
pub fn rewrite(
    query: &str,
    resolve: &mut dyn FnMut(Namespace, &str) -> Option<String>,
) -> Result<Rewritten, JqlError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(JqlError::TooLong(query.len()));
    }
    let tokens = lex(query)?;
    let mut out = Rewriter {
        tokens: &tokens,
        at: 0,
        query: String::with_capacity(query.len()),
        rewritten: 0,
        unresolved: Vec::new(),
        resolve,
    };
    out.run();
    Ok(Rewritten {
        query: out.query,
        rewritten: out.rewritten,
        unresolved: out.unresolved,
    })
}

/// What a field's values are, for rewriting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ids {
    /// Values are not ids (text, dates, numbers of a number field…).
    None,
    /// Numeric values are ids in this namespace; other values are names or keys.
    Numeric(Namespace),
    /// Every value is an id in this namespace (users: user keys).
    Any(Namespace),
}

/// The namespace of a field's values, by the field's name (case-insensitive).
fn field_ids(field: &str) -> Ids {
    let field = field.to_ascii_lowercase();
    let numeric = Ids::Numeric;
    match field.as_str() {
        "project" => numeric(Namespace::PROJECT),
        "category" => numeric(Namespace::PROJECT_CATEGORY),
        "status" => numeric(Namespace::STATUS),
        "issuetype" | "type" => numeric(Namespace::ISSUE_TYPE),
        "priority" => numeric(Namespace::PRIORITY),
        "resolution" => numeric(Namespace::RESOLUTION),
        "level" => numeric(Namespace::SECURITY_LEVEL),
        "fixversion" | "affectedversion" => numeric(Namespace::VERSION),
        "component" => numeric(Namespace::COMPONENT),
        "sprint" => numeric(Namespace::SPRINT),
        "filter" | "savedfilter" | "request" | "searchrequest" => numeric(Namespace::FILTER),
        "issue" | "issuekey" | "key" | "id" | "parent" => numeric(Namespace::ISSUE),
        "assignee" | "reporter" | "creator" | "watcher" | "voter" => Ids::Any(Namespace::USER),
        _ => Ids::None,
    }
}

/// Words that are never a field's value to rewrite.
fn is_keyword(word: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "and", "or", "not", "in", "is", "was", "changed", "empty", "null", "order", "by", "asc",
        "desc", "from", "to", "before", "after", "on", "during",
    ];
    KEYWORDS.iter().any(|k| word.eq_ignore_ascii_case(k))
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token<'q> {
    Space(&'q str),
    Open,
    Close,
    Comma,
    /// `=`, `!=`, `~`, `!~`, `<`, `<=`, `>`, `>=`.
    Operator(&'q str),
    /// A bare word: a field, keyword, function name or value (`cf[10100]`, `ACME-1`).
    Word(&'q str),
    /// A quoted value: its quote character, its text unescaped, and as written (what is
    /// copied when it is not rewritten, so untouched text stays byte for byte).
    Quoted(char, String, &'q str),
}

fn lex(query: &str) -> Result<Vec<Token<'_>>, JqlError> {
    let bytes = query.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                tokens.push(Token::Space(&query[start..i]));
            }
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            b'=' | b'~' => {
                tokens.push(Token::Operator(&query[i..i + 1]));
                i += 1;
            }
            b'!' | b'<' | b'>' => {
                i += 1;
                if i < bytes.len() && (bytes[i] == b'=' || (c == b'!' && bytes[i] == b'~')) {
                    i += 1;
                }
                tokens.push(Token::Operator(&query[start..i]));
            }
            b'"' | b'\'' => {
                let quote = c;
                i += 1;
                let mut text = String::new();
                loop {
                    let Some(&b) = bytes.get(i) else {
                        return Err(JqlError::UnterminatedString(start));
                    };
                    if b == quote {
                        i += 1;
                        break;
                    }
                    // A backslash escapes the next character (UTF-8 safe: find its end).
                    let from = if b == b'\\' { i + 1 } else { i };
                    let Some(ch) = query.get(from..).and_then(|rest| rest.chars().next()) else {
                        return Err(JqlError::UnterminatedString(start));
                    };
                    text.push(ch);
                    i = from + ch.len_utf8();
                }
                tokens.push(Token::Quoted(quote as char, text, &query[start..i]));
            }
            _ => {
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !matches!(
                        bytes[i],
                        b'(' | b')' | b',' | b'=' | b'~' | b'!' | b'<' | b'>' | b'"' | b'\''
                    )
                {
                    i += 1;
                }
                tokens.push(Token::Word(&query[start..i]));
            }
        }
    }
    Ok(tokens)
}

struct Rewriter<'t, 'q, 'r> {
    tokens: &'t [Token<'q>],
    at: usize,
    query: String,
    rewritten: usize,
    unresolved: Vec<Unresolved>,
    resolve: &'r mut dyn FnMut(Namespace, &str) -> Option<String>,
}

/// Where the walk is in a clause.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Field,
    Operator,
    Value,
    /// After a value: `AND`/`OR`, a `WAS` predicate, `)` or `ORDER BY`.
    Next,
    OrderBy,
}

impl<'t, 'q> Rewriter<'t, 'q, '_> {
    fn run(&mut self) {
        let mut expect = Expect::Field;
        let mut field = String::new();
        let mut ids = Ids::None;
        while let Some(token) = self.next_token() {
            match (expect, token) {
                (_, Token::Space(s)) => self.query.push_str(s),
                (Expect::Field, Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                    self.query.push_str(w)
                }
                (Expect::Field | Expect::Next, Token::Word(w))
                    if w.eq_ignore_ascii_case("order") =>
                {
                    self.query.push_str(w);
                    expect = Expect::OrderBy;
                }
                (Expect::Field | Expect::OrderBy, Token::Word(w)) => {
                    if is_keyword(w) {
                        self.query.push_str(w);
                        continue;
                    }
                    self.field_name(w);
                    field = w.to_string();
                    ids = field_ids(w);
                    if expect == Expect::Field {
                        expect = Expect::Operator;
                    }
                }
                (Expect::Field | Expect::Next, Token::Open) => {
                    self.query.push('(');
                    expect = Expect::Field;
                }
                (_, Token::Close) => {
                    self.query.push(')');
                    expect = Expect::Next;
                }
                (Expect::Operator, Token::Operator(op)) => {
                    self.query.push_str(op);
                    expect = Expect::Value;
                }
                (Expect::Operator, Token::Word(w)) => {
                    self.query.push_str(w);
                    let word = w.to_ascii_lowercase();
                    expect = match word.as_str() {
                        // `NOT IN`, `IS [NOT] EMPTY`: more of the operator follows.
                        "not" | "is" => Expect::Operator,
                        // `WAS [NOT] [IN]`.
                        "was" if self.peek_word_is(&["in", "not"]) => Expect::Operator,
                        // `IS EMPTY`: no value to rewrite; `CHANGED`: only predicates.
                        "empty" | "null" | "changed" => Expect::Next,
                        _ => Expect::Value,
                    };
                }
                (Expect::Value, Token::Open) => {
                    self.query.push('(');
                    self.value_list(&field, ids);
                    expect = Expect::Next;
                }
                (Expect::Value, Token::Word(_) | Token::Quoted(..)) => {
                    self.value(token, &field, ids);
                    expect = Expect::Next;
                }
                (Expect::Next, Token::Word(w)) => {
                    self.query.push_str(w);
                    match w.to_ascii_lowercase().as_str() {
                        "and" | "or" => expect = Expect::Field,
                        // `WAS x BY user`: the user is an id.
                        "by" => self.predicate_value("by", Ids::Any(Namespace::USER)),
                        // `CHANGED FROM x TO y`: the field's own values.
                        "from" | "to" => self.predicate_value(&field, ids),
                        // Dates: left alone.
                        "before" | "after" | "on" | "during" => {
                            self.predicate_value(&field, Ids::None)
                        }
                        // Anything else is copied; the walk goes on.
                        _ => {}
                    }
                }
                (Expect::OrderBy, Token::Comma) => self.query.push(','),
                (_, other) => self.push_token(other),
            }
        }
    }

    fn next_token(&mut self) -> Option<&'t Token<'q>> {
        let token = self.tokens.get(self.at)?;
        self.at += 1;
        Some(token)
    }

    /// The next non-space token, without consuming it.
    fn peek(&self) -> Option<&'t Token<'q>> {
        self.tokens[self.at..]
            .iter()
            .find(|t| !matches!(t, Token::Space(_)))
    }

    fn peek_word_is(&self, words: &[&str]) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if words.iter().any(|x| w.eq_ignore_ascii_case(x)))
    }

    fn push_token(&mut self, token: &Token<'_>) {
        match token {
            Token::Space(s) | Token::Operator(s) | Token::Word(s) => self.query.push_str(s),
            Token::Open => self.query.push('('),
            Token::Close => self.query.push(')'),
            Token::Comma => self.query.push(','),
            Token::Quoted(_, _, raw) => self.query.push_str(raw),
        }
    }

    /// A field name: `cf[10100]` becomes the cloud's custom field number.
    fn field_name(&mut self, word: &str) {
        let number = word
            .strip_prefix("cf[")
            .or_else(|| word.strip_prefix("CF["))
            .and_then(|rest| rest.strip_suffix(']'))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let Some(number) = number else {
            self.query.push_str(word);
            return;
        };
        match (self.resolve)(Namespace::CUSTOM_FIELD, number) {
            Some(cloud) => {
                let cloud = cloud.strip_prefix("customfield_").unwrap_or(&cloud);
                self.query.push_str(&format!("cf[{cloud}]"));
                self.rewritten += 1;
            }
            None => {
                self.query.push_str(word);
                self.unresolved.push(Unresolved {
                    field: word.to_owned(),
                    namespace: Namespace::CUSTOM_FIELD,
                    id: number.to_owned(),
                });
            }
        }
    }

    /// One value of `field`; a function call (`membersOf("x")`) is copied whole.
    fn value(&mut self, token: &Token<'_>, field: &str, ids: Ids) {
        if let Token::Word(w) = token
            && matches!(self.peek(), Some(Token::Open))
        {
            self.query.push_str(w);
            self.copy_call();
            return;
        }
        let (text, quote) = match token {
            Token::Word(w) => (*w, None),
            Token::Quoted(q, text, _) => (text.as_str(), Some(*q)),
            other => {
                self.push_token(other);
                return;
            }
        };
        let namespace = match ids {
            Ids::Numeric(ns) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                Some(ns)
            }
            // A bare keyword (`EMPTY`) is not a user; a quoted one is.
            Ids::Any(ns) if !text.is_empty() && (quote.is_some() || !is_keyword(text)) => Some(ns),
            _ => None,
        };
        let Some(ns) = namespace else {
            self.push_token(token);
            return;
        };
        let Some(cloud) = (self.resolve)(ns, text) else {
            self.unresolved.push(Unresolved {
                field: field.to_owned(),
                namespace: ns,
                id: text.to_owned(),
            });
            self.push_token(token);
            return;
        };
        self.rewritten += 1;
        match quote {
            Some(q) => push_quoted(&mut self.query, q, &cloud),
            None if is_bare(&cloud) => self.query.push_str(&cloud),
            None => push_quoted(&mut self.query, '"', &cloud),
        }
    }

    /// `( v, v, … )` after the opening parenthesis, through the closing one.
    fn value_list(&mut self, field: &str, ids: Ids) {
        while let Some(token) = self.next_token() {
            match token {
                Token::Close => {
                    self.query.push(')');
                    return;
                }
                Token::Word(_) | Token::Quoted(..) => self.value(token, field, ids),
                other => self.push_token(other),
            }
        }
    }

    /// A predicate's value (`BY x`, `FROM x`, `BEFORE "2020-01-01"`), or a list of them.
    fn predicate_value(&mut self, field: &str, ids: Ids) {
        while let Some(token) = self.next_token() {
            match token {
                Token::Space(s) => self.query.push_str(s),
                Token::Open => {
                    self.query.push('(');
                    self.value_list(field, ids);
                    return;
                }
                Token::Word(_) | Token::Quoted(..) => {
                    self.value(token, field, ids);
                    return;
                }
                other => {
                    self.push_token(other);
                    return;
                }
            }
        }
    }

    /// A function call's arguments, copied through the matching `)`.
    fn copy_call(&mut self) {
        let mut depth = 0usize;
        while let Some(token) = self.next_token() {
            match token {
                Token::Open => {
                    depth += 1;
                    self.query.push('(');
                }
                Token::Close => {
                    self.query.push(')');
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                other => self.push_token(other),
            }
        }
    }
}

/// Whether a value can stay unquoted: JQL reserves most punctuation (`:` in account ids,
/// `.`, `@`…), so only letters, digits, `_` and `-`.
fn is_bare(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-'))
        && !is_keyword(value)
}

fn push_quoted(out: &mut String, quote: char, text: &str) {
    out.push(quote);
    for c in text.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
}

#[cfg(test)]
mod tests;
