/// One typed cell of an Active Objects row.
///
/// With the `wasmtime` feature it is also the host's lowering of the WIT `value` variant
/// (same cases, same order), so rows cross into a plugin without an intermediate copy.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "wasmtime",
    derive(wasmtime::component::ComponentType, wasmtime::component::Lower),
    component(variant)
)]
pub enum Value {
    #[cfg_attr(feature = "wasmtime", component(name = "null"))]
    Null,
    #[cfg_attr(feature = "wasmtime", component(name = "string"))]
    String(String),
    #[cfg_attr(feature = "wasmtime", component(name = "integer"))]
    Integer(i64),
    #[cfg_attr(feature = "wasmtime", component(name = "double"))]
    Double(f64),
    #[cfg_attr(feature = "wasmtime", component(name = "boolean"))]
    Boolean(bool),
    /// Milliseconds since the Unix epoch, UTC.
    #[cfg_attr(feature = "wasmtime", component(name = "timestamp"))]
    Timestamp(i64),
}

impl Value {
    pub fn timestamp(millis: i64) -> Value {
        Value::Timestamp(millis)
    }

    /// The variant's name, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Double(_) => "double",
            Value::Boolean(_) => "boolean",
            Value::Timestamp(_) => "timestamp",
        }
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
