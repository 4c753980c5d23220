//! Unit tests of the transcript matcher that `tests/book.rs` uses.

#[path = "support/transcript.rs"]
#[allow(dead_code)]
mod transcript;

use transcript::{matches, mutation_check, parse};

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn marks_stand_for_varying_parts_only() {
    assert!(matches(
        &v(&["pid [PID] took [TIME]"]),
        &v(&["pid 42 took 0.5 s"])
    ));
    assert!(!matches(&v(&["pid [PID]"]), &v(&["pid x"])));
    assert!(matches(&v(&["x [..] y"]), &v(&["x anything y"])));
    assert!(!matches(&v(&["x [..] y"]), &v(&["x anything z"])));
    assert!(matches(&v(&["[N] lost"]), &v(&["1,234 lost"])));
    assert!(matches(&v(&["rate [RATE]"]), &v(&["rate 13.9 GB/s"])));
}

#[test]
fn ellipsis_lines_stand_for_any_lines() {
    assert!(matches(&v(&["a", "...", "z"]), &v(&["a", "b", "c", "z"])));
    assert!(matches(&v(&["a", "...", "z"]), &v(&["a", "z"])));
    assert!(!matches(&v(&["a", "...", "z"]), &v(&["a", "b"])));
}

#[test]
fn every_line_must_be_accounted_for() {
    assert!(!matches(&v(&["a"]), &v(&["a", "b"])));
    assert!(!matches(&v(&["a", "b"]), &v(&["a"])));
    assert!(
        matches(&v(&["a  "]), &v(&["a"])),
        "trailing spaces are ignored"
    );
}

#[test]
fn a_single_changed_character_fails() {
    let expected = v(&["created [NAME] (4096 bytes)", "...", "exit status: 2"]);
    let actual = v(&[
        "created /shmbook-x-1-0 (4096 bytes)",
        "more",
        "exit status: 2",
    ]);
    assert!(matches(&expected, &actual));
    let (tried, survivors) = mutation_check(&expected, &actual);
    assert_eq!(tried, 27 + 3 + 14);
    assert!(survivors.is_empty(), "{survivors:?}");
}

#[test]
fn a_loose_transcript_is_caught() {
    // A line that is nothing but `[..]` lets its own brackets be changed to text the
    // line happens to contain... this one survives changing its first character to '#'
    // because the actual line starts with '#'.
    let expected = v(&["[..]"]);
    let actual = v(&["#..]"]);
    let (_, survivors) = mutation_check(&expected, &actual);
    assert_eq!(survivors, vec!["#..]".to_string()]);
}

#[test]
fn parsing_finds_commands_outputs_and_bare_fences() {
    let page = "text\n```console\n$ cargo run -q --example a -- x\nout 1\nout 2\n$ cargo run -q --example a -- y\n```\n\n```\nbare\n```\n";
    let (blocks, problems) = parse("p.md", page);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].steps.len(), 2);
    assert_eq!(blocks[0].steps[0].expected, v(&["out 1", "out 2"]));
    assert_eq!(blocks[0].steps[0].line, 3);
    assert!(blocks[0].steps[1].expected.is_empty());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].what.contains("without a language"));
}

/// The mutation check's shortcuts (each changed line tried only where it can stand,
/// and only against lines holding the replacement character) find exactly the changed
/// transcripts that match whole, `...` lines and repeated lines included.
#[test]
fn the_mutation_check_agrees_with_matching_whole_transcripts() {
    // The second shortcut holds because no mark can stand for a '#' or '%' of its own.
    for (mark, _) in transcript::PLACEHOLDERS {
        assert!(!mark.contains(['#', '%']), "{mark}");
    }
    let cases = [
        (
            vec!["a [N]", "...", "a [N]", "end"],
            vec!["a 1", "a 2", "a 3", "end"],
        ),
        (vec!["...", "x", "..."], vec!["x", "x", "#"]),
        (vec!["[..]", "[..]"], vec!["#..]", "b"]),
        (vec!["..", "...", "#.."], vec!["..", "#..", "%.."]),
        (vec!["a", "...."], vec!["a", "#..."]),
        (vec!["line", "...", "line"], vec!["line"]),
        (vec!["[N] % [..]", "[PATH]"], vec!["5 % #", "#%"]),
    ];
    for (expected, actual) in cases {
        let (expected, actual) = (v(&expected), v(&actual));
        let mut whole = Vec::new();
        for (li, line) in expected.iter().enumerate() {
            for (ci, c) in line.char_indices() {
                let r = if c == '#' { '%' } else { '#' };
                let mut changed = expected.clone();
                changed[li] = format!("{}{r}{}", &line[..ci], &line[ci + c.len_utf8()..]);
                if matches(&changed, &actual) {
                    whole.push(changed[li].clone());
                }
            }
        }
        let (tried, survivors) = mutation_check(&expected, &actual);
        assert_eq!(
            tried,
            expected.iter().map(|l| l.chars().count()).sum::<usize>()
        );
        assert_eq!(survivors, whole, "{expected:?} against {actual:?}");
    }
}
