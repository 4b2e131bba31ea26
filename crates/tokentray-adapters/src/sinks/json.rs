//! JSON files: set values at JSON pointers (RFC 6901), keep every other key
//! and the key order.

use serde_json::{Map, Value};

pub fn set(text: &str, pairs: &[(&str, String)]) -> Result<String, String> {
    let mut doc: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        // Where, never what: the file may hold passwords, and this message
        // reaches the status, the API and the log.
        serde_json::from_str(text)
            .map_err(|e| format!("it is not valid JSON (line {}, column {}); fix or remove it", e.line(), e.column()))?
    };
    for (pointer, value) in pairs {
        let mut node = &mut doc;
        let parts: Vec<String> = pointer
            .strip_prefix('/')
            .ok_or_else(|| format!("`{pointer}` is not a JSON pointer (it starts with /)"))?
            .split('/')
            .map(|p| p.replace("~1", "/").replace("~0", "~"))
            .collect();
        for (i, part) in parts.iter().enumerate() {
            let object = node
                .as_object_mut()
                .ok_or_else(|| format!("`{pointer}` goes through a value that is not an object"))?;
            if i + 1 == parts.len() {
                object.insert(part.clone(), Value::String(value.clone()));
                break;
            }
            node = object.entry(part.clone()).or_insert_with(|| Value::Object(Map::new()));
        }
    }
    let mut out = serde_json::to_string_pretty(&doc).expect("JSON values serialize");
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_nested_pointers_and_keeps_order() {
        let out = super::set(r#"{"z": 1, "kite": {"api_key": "k"}, "a": [1]}"#, &[("/kite/access_token", "t".into())])
            .unwrap();
        assert_eq!(out, "{\n  \"z\": 1,\n  \"kite\": {\n    \"api_key\": \"k\",\n    \"access_token\": \"t\"\n  },\n  \"a\": [\n    1\n  ]\n}\n");
        assert!(super::set("{not json", &[("/a", "t".into())]).is_err());
        assert!(super::set(r#"{"a": 1}"#, &[("/a/b", "t".into())]).is_err());
    }
}
