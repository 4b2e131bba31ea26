//! `.env` files: set `NAME=value` lines, keep every other line as it was.

/// A value as `.env` readers (python-dotenv, shells) read it back unchanged.
fn quoted(value: &str, style: Option<char>) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@%,~".contains(c))
        && style.is_none();
    if plain {
        value.to_owned()
    } else if style == Some('\'') && !value.contains('\'') {
        format!("'{value}'")
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Sets each `name` in `text`: in place where the name is defined (keeping an
/// `export ` prefix and the quoting style), appended otherwise.
pub fn set(text: &str, pairs: &[(&str, String)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (name, value) in pairs {
        let found = lines.iter().position(|line| {
            let l = line.trim_start();
            let l = l.strip_prefix("export ").map(str::trim_start).unwrap_or(l);
            l.strip_prefix(name).is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        match found {
            Some(i) => {
                let line = &lines[i];
                let indent_len = line.len() - line.trim_start().len();
                let export = line.trim_start().starts_with("export ");
                let old_value = line.split_once('=').map(|(_, v)| v.trim_start()).unwrap_or("");
                let style = old_value.chars().next().filter(|c| *c == '"' || *c == '\'');
                lines[i] = format!(
                    "{}{}{name}={}",
                    &line[..indent_len],
                    if export { "export " } else { "" },
                    quoted(value, style)
                );
            }
            None => lines.push(format!("{name}={}", quoted(value, None))),
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_in_place_and_appends() {
        let text = "# broker\nexport KITE_API_KEY=old\nOTHER=1\n  KITE_ACCESS_TOKEN = \"x\"\n";
        let out =
            set(text, &[("KITE_API_KEY", "k1".into()), ("KITE_ACCESS_TOKEN", "t1".into()), ("NEW", "a b".into())]);
        assert_eq!(out, "# broker\nexport KITE_API_KEY=k1\nOTHER=1\n  KITE_ACCESS_TOKEN=\"t1\"\nNEW=\"a b\"\n");
    }

    #[test]
    fn a_prefix_of_another_name_is_not_it() {
        let out = set("KITE_ACCESS_TOKEN_OLD=1\n", &[("KITE_ACCESS_TOKEN", "t".into())]);
        assert_eq!(out, "KITE_ACCESS_TOKEN_OLD=1\nKITE_ACCESS_TOKEN=t\n");
    }
}
