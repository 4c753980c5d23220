//! What an example's command line accepts, read from clap's help (`-h`: the short
//! format, one entry per argument) and, for the hidden helper roles, from the names
//! declared in the example's sources (`name = "_role"`): a hidden role is not listed in
//! `--help`, but `ROLE -h` describes it like any subcommand.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use shmbook::process::{self, Output};

/// One argument of a (sub)command.
#[derive(Clone, Debug)]
pub struct Arg {
    /// `--size` for an option, empty for a positional argument.
    pub flag: String,
    /// The placeholder (`BYTES`), empty for a switch.
    pub value: String,
    /// Given in the usage line without brackets.
    pub required: bool,
    /// `[possible values: a, b]`.
    pub choices: Vec<String>,
    /// May be given several times (`VALUE...`, or a comma-separated list).
    pub repeatable: bool,
}

/// A subcommand (or hidden role) and its arguments.
#[derive(Clone, Debug)]
pub struct Spec {
    pub command: String,
    pub args: Vec<Arg>,
}

impl Spec {
    pub fn options(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| !a.flag.is_empty())
    }
    pub fn positionals(&self) -> impl Iterator<Item = &Arg> {
        self.args.iter().filter(|a| a.flag.is_empty())
    }
}

/// Runs `bin ARGS` (no input, 30 s at most) and returns (shell status, stdout, stderr).
pub fn run(bin: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args).env("RUST_BACKTRACE", "0");
    let ran = process::run(&mut cmd, Output::Separate, None, Duration::from_secs(30))
        .expect("start the example");
    (
        ran.shell_code(),
        String::from_utf8_lossy(&ran.stdout).into_owned(),
        String::from_utf8_lossy(&ran.stderr).into_owned(),
    )
}

/// The lines of the section `title` (`Commands:`, `Options:`, `Arguments:`) of a help
/// text, grouped into entries: an entry's first line is indented by at most 6 spaces,
/// its continuation lines (wrapped help) deeper.
pub fn section(help: &str, title: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if !line.starts_with(' ') {
            inside = line.trim_end() == title;
            continue;
        }
        if !inside {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        match out.last_mut() {
            Some(last) if indent > 6 => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => out.push(line.trim().to_string()),
        }
    }
    out
}

/// The visible subcommands listed under `Commands:` (clap's own `help` left out).
pub fn commands(help: &str) -> Vec<String> {
    section(help, "Commands:")
        .iter()
        .filter_map(|e| e.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

fn choices(entry: &str) -> Vec<String> {
    let Some(i) = entry.find("[possible values: ") else {
        return Vec::new();
    };
    let rest = &entry[i + "[possible values: ".len()..];
    rest[..rest.find(']').unwrap_or(rest.len())]
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The arguments of one subcommand, from its `-h`.
pub fn spec(command: &str, help: &str) -> Spec {
    let usage = help
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .unwrap_or("");
    let after = usage
        .split_once(&format!(" {command}"))
        .map_or("", |(_, rest)| rest);
    // Required options appear in the usage line as `--flag <VALUE>`, outside brackets.
    let mut required = Vec::new();
    let mut depth = 0i32;
    for w in after.split_whitespace() {
        if depth == 0 && w.starts_with("--") {
            required.push(w.trim_end_matches(['=', '<']).to_string());
        }
        depth += w.matches('[').count() as i32 - w.matches(']').count() as i32;
    }
    let mut args = Vec::new();
    for entry in section(help, "Options:") {
        let head = entry.split("  ").next().unwrap_or("");
        let Some(flag) = head
            .split([' ', ','])
            .find(|w| w.starts_with("--"))
            .map(|w| w.split('=').next().unwrap_or(w).to_string())
        else {
            continue;
        };
        if flag == "--help" || flag == "--version" {
            continue;
        }
        let value = head.split(['<', '>']).nth(1).unwrap_or("").to_string();
        args.push(Arg {
            repeatable: head.contains("...") || entry.contains("comma-separated"),
            required: required.contains(&flag),
            choices: choices(&entry),
            flag,
            value,
        });
    }
    for entry in section(help, "Arguments:") {
        let head = entry.split("  ").next().unwrap_or("");
        let value: String = head
            .trim_matches(|c| c == '<' || c == '>' || c == '[' || c == ']' || c == '.')
            .to_string();
        args.push(Arg {
            repeatable: head.contains("..."),
            flag: String::new(),
            required: head.starts_with('<'),
            choices: choices(&entry),
            value,
        });
    }
    Spec {
        command: command.to_string(),
        args,
    }
}

/// The hidden roles an example declares in its sources: `name = "_role"`.
pub fn roles(root: &Path, example: &str) -> Vec<String> {
    let mut files = Vec::new();
    let dir = root.join("examples").join(example);
    if dir.is_dir() {
        files.extend(
            std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path()),
        );
    } else {
        files.push(root.join("examples").join(format!("{example}.rs")));
    }
    let re = regex::Regex::new(r#"name\s*=\s*"(_[A-Za-z0-9_-]+)""#).unwrap();
    let mut out: Vec<String> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| {
            re.captures_iter(&text)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every subcommand of `example`, visible ones and hidden roles, with its arguments.
/// Errors name what could not be read.
pub fn all(root: &Path, bin: &Path, example: &str) -> Result<Vec<Spec>, String> {
    let (code, help, err) = run(bin, &["--help"]);
    if code != Some(0) || !help.contains("Commands:") {
        return Err(format!(
            "{example} --help: status {code:?}, no clap 'Commands:' section (stderr: {err:?})"
        ));
    }
    let mut names = commands(&help);
    if names.is_empty() {
        return Err(format!("{example} --help lists no commands"));
    }
    names.extend(roles(root, example));
    // Each subcommand's help is a process of its own: four at a time, in order.
    let mut out = Vec::new();
    for chunk in names.chunks(4) {
        let helps: Vec<_> = std::thread::scope(|s| {
            let asked: Vec<_> = chunk
                .iter()
                .map(|c| s.spawn(move || run(bin, &[c, "-h"])))
                .collect();
            asked
                .into_iter()
                .map(|a| a.join().expect("run does not panic"))
                .collect()
        });
        for (c, (code, h, err)) in chunk.iter().zip(helps) {
            if code != Some(0) || !h.contains("Usage:") {
                return Err(format!(
                    "{example} {c} -h: status {code:?}, no 'Usage:' (stderr: {err:?})"
                ));
            }
            out.push(spec(c, &h));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "Create a segment

Usage: cargo run -q --example segments -- open [OPTIONS] --name <NAME> <WAY> [PEER]

Arguments:
  <WAY>   The way [possible values: shm, fresh,
          spin]
  [PEER]  The peer

Options:
      --name <NAME>   The segment
      --size <BYTES>  Its size [default: 4096]
      --retry         Retry
  -h, --help          Print help
";

    #[test]
    fn reads_a_subcommand_help() {
        let s = spec("open", SUB);
        let flags: Vec<_> = s
            .options()
            .map(|a| (a.flag.as_str(), a.value.as_str(), a.required))
            .collect();
        assert_eq!(
            flags,
            [
                ("--name", "NAME", true),
                ("--size", "BYTES", false),
                ("--retry", "", false)
            ]
        );
        let pos: Vec<_> = s
            .positionals()
            .map(|a| (a.value.clone(), a.required, a.choices.clone()))
            .collect();
        assert_eq!(
            pos,
            [
                (
                    "WAY".to_string(),
                    true,
                    vec!["shm".to_string(), "fresh".into(), "spin".into()]
                ),
                ("PEER".to_string(), false, vec![])
            ]
        );
    }

    #[test]
    fn reads_the_command_list() {
        let top = "About\n\nUsage: x <COMMAND>\n\nCommands:\n  create  Create\n          more\n  open    Open\n  help    Print this\n\nOptions:\n  -h, --help  Print help\n";
        assert_eq!(commands(top), ["create", "open"]);
    }
}
