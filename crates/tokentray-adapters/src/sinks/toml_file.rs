//! TOML files: set values at dotted keys, keeping formatting and comments.

use toml_edit::{value, DocumentMut, Item, Table};

pub fn set(text: &str, pairs: &[(&str, String)]) -> Result<String, String> {
    // Where, never what: the file may hold passwords, and this message
    // reaches the status, the API and the log.
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        let (line, column) = e.span().map_or((1, 1), |s| crate::position::line_column(text, s.start));
        format!("it is not valid TOML (line {line}, column {column}); fix or remove it")
    })?;
    for (key, v) in pairs {
        let parts: Vec<&str> = key.split('.').collect();
        let mut table: &mut Table = doc.as_table_mut();
        for part in &parts[..parts.len() - 1] {
            let item = table.entry(part).or_insert_with(|| Item::Table(Table::new()));
            table =
                item.as_table_mut().ok_or_else(|| format!("`{key}` goes through `{part}`, which is not a table"))?;
        }
        let leaf = parts[parts.len() - 1];
        let mut new = value(v.as_str());
        // The old value's surroundings (a comment after it on its line) stay.
        if let (Some(old), Some(new)) = (table.get(leaf).and_then(Item::as_value), new.as_value_mut()) {
            *new.decor_mut() = old.decor().clone();
        }
        table[leaf] = new;
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sets_dotted_keys_keeping_comments() {
        let text = "# Streamlit secrets\n[upstox]\napi_key = \"k\" # from the console\naccess_token = \"old\"\n";
        let out = super::set(text, &[("upstox.access_token", "new".into())]).unwrap();
        assert_eq!(out, "# Streamlit secrets\n[upstox]\napi_key = \"k\" # from the console\naccess_token = \"new\"\n");
        let commented = "[kite]\ntoken = \"old\" # rotated by TokenTray\nuser = \"AB\"\n";
        let out = super::set(commented, &[("kite.token", "new".into())]).unwrap();
        assert_eq!(out, "[kite]\ntoken = \"new\" # rotated by TokenTray\nuser = \"AB\"\n", "the token's own comment");
        let out = super::set("", &[("kite.token", "t".into())]).unwrap();
        assert_eq!(out, "[kite]\ntoken = \"t\"\n");
    }
}
