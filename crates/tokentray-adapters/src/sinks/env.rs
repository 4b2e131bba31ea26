//! `.env` files: set `NAME=value` lines, keep every other line as it was.

/// A value as `.env` readers read it back unchanged: a shell sourcing the
/// file (`set -a; . file`), python-dotenv, and, for plain values,
/// `docker --env-file` (which takes everything after `=` as it stands).
///
/// Plain when every character is inert in all of them; in double quotes
/// (kept if the file used them) only when nothing in it expands in a shell
/// (`$`, backticks, `\`, `!`); else in single quotes, where nothing does. A
/// value none of these can carry (a newline, both `'` and `"$`) is refused:
/// writing it would make the file mean something else to some reader.
fn quoted(value: &str, style: Option<char>) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        return Err("a value holds a control character (a newline?), which a .env file cannot carry".to_owned());
    }
    // `~` is inert but at the start or after `:` or `=`, where a shell expands it.
    let tilde_safe = !value.starts_with('~') && !value.contains(":~") && !value.contains("=~");
    let plain = !value.is_empty()
        && tilde_safe
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@%,~".contains(c));
    let double_safe = !value.contains(['$', '`', '\\', '"', '!']);
    let single_safe = !value.contains(['\'', '\\']);
    match style {
        None if plain => Ok(value.to_owned()),
        Some('\'') if single_safe => Ok(format!("'{value}'")),
        _ if double_safe => Ok(format!("\"{value}\"")),
        _ if single_safe => Ok(format!("'{value}'")),
        _ => Err("a value mixes quotes and shell syntax in a way no .env quoting carries exactly".to_owned()),
    }
}

/// The comment after a value (`TOKEN=abc  # renewed daily`), with the
/// space before it, as `.env` readers define it: after the closing quote of
/// a quoted value, or after whitespace in a plain one.
fn trailing_comment(old_value: &str, style: Option<char>) -> &str {
    let rest = match style {
        Some(q) => {
            let mut escaped = false;
            let close = old_value.char_indices().skip(1).find(|&(_, c)| {
                let end = c == q && !escaped;
                escaped = c == '\\' && !escaped && q == '"';
                end
            });
            match close {
                Some((i, _)) => &old_value[i + 1..],
                None => return "",
            }
        }
        None => match old_value.find([' ', '\t']) {
            Some(i) => &old_value[i..],
            None => return "",
        },
    };
    if rest.trim_start().starts_with('#') {
        rest
    } else {
        ""
    }
}

/// Sets each `name` in `text`: in place where the name is defined (keeping an
/// `export ` prefix and the quoting style), appended otherwise.
pub fn set(text: &str, pairs: &[(&str, String)]) -> Result<String, String> {
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
                    "{}{}{name}={}{}",
                    &line[..indent_len],
                    if export { "export " } else { "" },
                    quoted(value, style).map_err(|e| format!("{name}: {e}"))?,
                    trailing_comment(old_value, style)
                );
            }
            None => lines.push(format!("{name}={}", quoted(value, None).map_err(|e| format!("{name}: {e}"))?)),
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_in_place_and_appends() {
        let text = "# broker\nexport KITE_API_KEY=old\nOTHER=1\n  KITE_ACCESS_TOKEN = \"x\"\n";
        let out =
            set(text, &[("KITE_API_KEY", "k1".into()), ("KITE_ACCESS_TOKEN", "t1".into()), ("NEW", "a b".into())])
                .unwrap();
        assert_eq!(out, "# broker\nexport KITE_API_KEY=k1\nOTHER=1\n  KITE_ACCESS_TOKEN=\"t1\"\nNEW=\"a b\"\n");
    }

    #[test]
    fn a_comment_on_the_tokens_own_line_is_kept() {
        let text = "KITE_ACCESS_TOKEN=old  # renewed by TokenTray\nQ=\"a \\\" b\" # quoted\nN=x#not-a-comment\n";
        let out = set(text, &[("KITE_ACCESS_TOKEN", "new".into()), ("Q", "v".into()), ("N", "y".into())]).unwrap();
        assert_eq!(out, "KITE_ACCESS_TOKEN=new  # renewed by TokenTray\nQ=\"v\" # quoted\nN=y\n");
    }

    #[test]
    fn a_prefix_of_another_name_is_not_it() {
        let out = set("KITE_ACCESS_TOKEN_OLD=1\n", &[("KITE_ACCESS_TOKEN", "t".into())]).unwrap();
        assert_eq!(out, "KITE_ACCESS_TOKEN_OLD=1\nKITE_ACCESS_TOKEN=t\n");
    }

    #[test]
    fn nothing_a_shell_expands_is_left_outside_single_quotes() {
        let out = set("A=\"old\"\n", &[("A", "x$(touch p)`id`".into()), ("B", "~user".into())]).unwrap();
        assert_eq!(out, "A='x$(touch p)`id`'\nB=\"~user\"\n");
        assert!(set("", &[("A", "a\nB=1".into())]).unwrap_err().contains("control character"));
        assert!(set("", &[("A", "it's $HOME".into())]).is_err(), "neither quoting carries it exactly");
    }
}
