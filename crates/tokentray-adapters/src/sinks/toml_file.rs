//! TOML files: set values at dotted keys, keeping formatting and comments.

use toml_edit::{value, DocumentMut, Item, Table};

pub fn set(text: &str, pairs: &[(&str, String)]) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("it is not valid TOML ({e}); fix or remove it"))?;
    for (key, v) in pairs {
        let parts: Vec<&str> = key.split('.').collect();
        let mut table: &mut Table = doc.as_table_mut();
        for part in &parts[..parts.len() - 1] {
            let item = table.entry(part).or_insert_with(|| Item::Table(Table::new()));
            table =
                item.as_table_mut().ok_or_else(|| format!("`{key}` goes through `{part}`, which is not a table"))?;
        }
        table[parts[parts.len() - 1]] = value(v.as_str());
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
        let out = super::set("", &[("kite.token", "t".into())]).unwrap();
        assert_eq!(out, "[kite]\ntoken = \"t\"\n");
    }
}
