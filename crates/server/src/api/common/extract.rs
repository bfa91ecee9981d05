//! Request extraction that always answers with problem+json: JSON bodies
//! (whatever Content-Type curl sent), query strings with repeated keys, ids
//! in paths.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::api::common::problem::Problem;

/// A JSON body. The Content-Type is not checked: the Paxos guides' own curl
/// examples send JSON as application/x-www-form-urlencoded.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // `read_body_first` has already refused a body over the limit.
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            Problem::new(
                rejection.status(),
                format!("cannot read request body: {rejection}"),
            )
        })?;
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => {
                return Err(Problem::bad_request(
                    "request body is empty; expected a JSON object",
                ))
            }
            Some(b'{') => {}
            // serde would read a struct from an array too; the API takes objects only.
            Some(_) => {
                return Err(Problem::bad_request(
                    "invalid JSON body: expected a JSON object",
                ))
            }
        }
        refuse_nul(&bytes)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let syntax = !matches!(inner.classify(), serde_json::error::Category::Data);
            if syntax || path == "." || path.is_empty() {
                Problem::bad_request(format!("invalid JSON body: {inner}"))
            } else {
                Problem::bad_request(format!("invalid value for field {path}: {inner}"))
            }
        })?;
        de.end()
            .map_err(|e| Problem::bad_request(format!("invalid JSON body: {e}")))?;
        Ok(JsonBody(value))
    }
}

/// A NUL character in any string is refused, naming the field: PostgreSQL
/// cannot store it in text, and no Paxos field has a use for it. JSON can
/// carry NUL only as the escape `\u0000`, so bodies without it skip the walk.
pub fn refuse_nul(body: &[u8]) -> Result<(), Problem> {
    if !body.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(()); // The decoder reports the syntax error.
    };
    match nul_path(&value, String::new()) {
        Some(path) => Err(Problem::bad_request(format!(
            "{path} must not contain a NUL character"
        ))),
        None => Ok(()),
    }
}

fn nul_path(value: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => {
            Some(if at.is_empty() { "body".into() } else { at })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(format!(
                    "a key in {}",
                    if at.is_empty() { "the body" } else { &at }
                ))
            } else {
                nul_path(v, join(k))
            }
        }),
        _ => None,
    }
}

/// Query parameters as a list of pairs, so repeated keys survive.
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        if let Some((name, _)) = pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(Problem::bad_request(format!(
                "query parameter {:?} must not contain a NUL character",
                name.replace('\0', "\\0")
            )));
        }
        Ok(Params(pairs))
    }
}

impl Params {
    /// A parameter that may appear at most once.
    pub fn one(&self, name: &str) -> Result<Option<&str>, Problem> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(Problem::bad_request(format!(
                "query parameter {name} may be given only once"
            )));
        }
        Ok(first)
    }

    /// Forgets `name=value`, where a value means "the default".
    pub fn drop_if(&mut self, name: &str, value: &str) {
        self.0.retain(|(k, v)| !(k == name && v == value));
    }

    /// Every value of a repeated parameter; comma-separated values are split too.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn uuid(&self, name: &str) -> Result<Option<Uuid>, Problem> {
        self.one(name)?.map(|v| parse_uuid(name, v)).transpose()
    }

    pub fn time(&self, name: &str) -> Result<Option<i64>, Problem> {
        self.one(name)?
            .map(|v| {
                crate::time::parse(v).ok_or_else(|| {
                    Problem::bad_request(format!(
                        "query parameter {name} must be an RFC 3339 timestamp like 2006-01-02T15:04:05Z, got {v:?}"
                    ))
                })
            })
            .transpose()
    }
}

pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, Problem> {
    // Only the hyphenated form Paxos uses; Uuid::parse_str also takes braces and URNs.
    if value.len() != 36 {
        return Err(Problem::bad_request(format!(
            "{field} must be a UUID, got {value:?}"
        )));
    }
    Uuid::parse_str(value)
        .map_err(|_| Problem::bad_request(format!("{field} must be a UUID, got {value:?}")))
}

/// Reads the whole request body before any handler runs. An answer sent
/// with the body still unread (a 401, a 404, any error found before the
/// body is looked at) ends with hyper closing a socket that holds unread
/// data; the kernel then resets the connection and the client may lose the
/// answer it was already sent. A body over `limit` is read on, and dropped,
/// up to `DRAIN_LIMIT`, so its 413 arrives too.
pub async fn read_body_first(
    axum::extract::State(limit): axum::extract::State<usize>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    const DRAIN_LIMIT: usize = 4 << 20;
    let (parts, mut body) = request.into_parts();
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Problem::bad_request("cannot read request body").into_response();
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= limit {
            bytes.extend_from_slice(&data);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > limit {
        let problem = Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is too large: at most {limit} bytes"),
        );
        let mut response = problem.into_response();
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return response;
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}
