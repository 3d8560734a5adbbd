//! Every page of every shipped preset speaks its own policy (issue 8 §4): `kehu demo` seeds each
//! preset, and the pages are read in both languages by a staff member of every role set. A page
//! fails when it shows a raw interface key (`claims.title`), a raw snake_case code
//! (`complaint_to_boss`), a raw history label (`ledger · charge`), a rule ID its tenant's policy
//! does not contain, or a word that belongs to another preset (a team leader, 组长, a car
//! test drive on a property or event tenant's page) unless its own policy file uses it.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "kehu-demo";
/// Pages of one shape (`/ledger/{n}`) read per staff member and language.
const PER_SHAPE: usize = 3;
/// Customer pages read per staff member and language: a sample across the demo month, so
/// follow-ups, claims of every state, cases (complaints) and history are among them.
const CUSTOMERS: usize = 12;
/// Pages read per staff member and language at most.
const PER_USER: usize = 70;

/// Role names too plain to say which preset they come from.
const PLAIN: &[&str] = &["经理", "Manager", "Sales", "销售员"];

/// Words that belong to one preset's demo or rulebook without being a role name.
const HOME_WORDS: &[(&str, &[&str])] = &[
    (
        "car-dealership",
        &[
            "组长",
            "客户卡",
            "卡片",
            "试驾",
            "看车",
            "油耗",
            "车型",
            "迟到",
            "劝退",
            "team leader",
            "consultant",
            "card",
            "test drive",
            "lateness",
            "dismissal",
        ],
    ),
    ("event-customers", &["老板", "the boss", "事业部", "division"]),
];

// ---- A demo server and a small HTTP client ---------------------------------------------------

struct Server {
    child: Child,
    port: u16,
    db: PathBuf,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::remove_db(&self.db);
        let _ = std::fs::remove_file(&self.log);
    }
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "kehu-pages-{}-{}-{name}",
        std::process::id(),
        jiff::Timestamp::now().as_microsecond()
    ))
}

fn start(preset: &str) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let db = temp(&format!("{preset}.db"));
    let log = temp(&format!("{preset}.log"));
    let out = std::fs::File::create(&log).expect("server log");
    let err = out.try_clone().expect("server log");
    let child = Command::new(env!("CARGO_BIN_EXE_kehu"))
        .args(["demo", "--preset", preset, "--listen", &format!("127.0.0.1:{port}")])
        .arg("--db")
        .arg(&db)
        .env_remove("KEHU_ADMIN_PASSWORD")
        .env("KEHU_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start kehu demo");
    let mut server = Server { child, port, db, log };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "kehu demo --preset {preset} exited ({status}):\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
        }
        if http(server.port, "GET", "/login", "", None).is_some_and(|r| r.status == 200) {
            return server;
        }
        assert!(Instant::now() < deadline, "kehu demo --preset {preset} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.0 request (so the answer is neither chunked nor compressed).
fn http(port: u16, method: &str, path: &str, cookie: &str, json: Option<&str>) -> Option<Answer> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    if !cookie.is_empty() {
        req.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    let body = json.unwrap_or("");
    if json.is_some() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

fn login(port: u16, username: &str) -> String {
    let body = format!(r#"{{"username":"{username}","password":"{PASSWORD}"}}"#);
    let a = http(port, "POST", "/api/v1/session", "", Some(&body)).expect("the server answers");
    assert_eq!(a.status, 200, "login as {username}: {}", a.body);
    a.head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.trim().split(';').next())
        .find(|kv| kv.starts_with("kehu_session="))
        .expect("a session cookie")
        .to_string()
}

// ---- What a page shows -----------------------------------------------------------------------

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The text a person reads: the text between tags and the attributes read out or shown
/// (placeholders, titles, labels), without scripts, styles and usernames (class `mono`).
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    let mut mono_depth: Option<(String, usize)> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() && mono_depth.is_none() {
            out.push_str(&rest[..lt]);
            out.push(' ');
        }
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(end) = skip_until {
            if tag.eq_ignore_ascii_case(end) {
                skip_until = None;
            }
            continue;
        }
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            skip_until = Some(if name == "script" { "/script" } else { "/style" });
            continue;
        }
        if let Some((n, depth)) = &mut mono_depth {
            if name == *n {
                if tag.starts_with('/') {
                    *depth -= 1;
                    if *depth == 0 {
                        mono_depth = None;
                    }
                } else if !tag.ends_with('/') {
                    *depth += 1;
                }
            }
            continue;
        }
        if !tag.starts_with('/') && attr(tag, "class").is_some_and(|c| c.split(' ').any(|c| c == "mono")) {
            mono_depth = Some((name, 1));
            continue;
        }
        for a in ["placeholder", "title", "aria-label", "data-label", "alt"] {
            if let Some(v) = attr(tag, a) {
                out.push(' ');
                out.push_str(&v);
                out.push(' ');
            }
        }
    }
    unescape(&out)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[at..].split('"').next()?.to_string())
}

fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(unescape)
        .filter(|h| h.starts_with('/') && !h.starts_with("//"))
        .map(|h| h.split('#').next().unwrap_or("").to_string())
        .filter(|h| {
            !h.is_empty()
                && !["/assets/", "/lang/", "/logout", "/api/", "/login"]
                    .iter()
                    .any(|p| h.starts_with(p))
        })
        .collect()
}

/// `/customers/17?cursor=9` -> `/customers/{n}?cursor`: pages of one kind.
fn shape(path: &str) -> String {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let p: Vec<String> = p
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{n}".to_string()
            } else {
                seg.to_string()
            }
        })
        .collect();
    let mut keys: Vec<&str> = q.split('&').filter_map(|kv| kv.split('=').next()).collect();
    keys.sort_unstable();
    format!("{}?{}", p.join("/"), keys.join("&"))
}

/// The rule IDs a policy file cites (outside comments).
fn rule_ids(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let line = line.split('#').next().unwrap_or("");
        for part in line.split("\"R").skip(1) {
            if let Some(id) = part.split('"').next() {
                out.insert(format!("R{id}"));
            }
        }
    }
    out
}

/// Rule IDs in a text: `R5.2`, `R7.8(12)`.
fn cited(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in 0..b.len() {
        if b[i] != b'R' || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let mut j = i + 1;
        let digits = |j: &mut usize| {
            let s = *j;
            while *j < b.len() && b[*j].is_ascii_digit() {
                *j += 1;
            }
            *j > s
        };
        if !digits(&mut j) || j >= b.len() || b[j] != b'.' {
            continue;
        }
        j += 1;
        if !digits(&mut j) {
            continue;
        }
        if j < b.len() && b[j] == b'(' {
            let mut k = j + 1;
            if digits(&mut k) && k < b.len() && b[k] == b')' {
                j = k + 1;
            }
        }
        out.push(text[i..j].to_string());
    }
    out
}

/// What is wrong with a page's text for a tenant on `source`, named `preset`: each problem
/// with the words around it.
fn problems(
    text: &str,
    preset: &str,
    source: &str,
    rules: &BTreeSet<String>,
    watch: &[String],
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    for w in &words {
        let lowercase = w
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        let segments: Vec<&str> = w.split('.').collect();
        if lowercase
            && segments.len() > 1
            && segments
                .iter()
                .all(|s| s.len() >= 2 && s.starts_with(|c: char| c.is_ascii_lowercase()))
        {
            out.push((format!("raw interface key `{w}`"), around(text, w)));
        } else if lowercase && w.contains('_') && w.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push((format!("raw code `{w}`"), around(text, w)));
        }
    }
    let dot = " · ";
    let mut from = 0;
    while let Some(i) = text[from..].find(dot) {
        let at = from + i;
        let before = text[..at].rsplit(' ').next().unwrap_or("");
        let after = text[at + dot.len()..].split(' ').next().unwrap_or("");
        let raw = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if raw(before) && raw(after) {
            let label = format!("{before} · {after}");
            out.push((format!("raw history label `{label}`"), around(text, &label)));
        }
        from = at + dot.len();
    }
    for r in cited(text) {
        if !rules.contains(&r) {
            out.push((
                format!("rule {r}, which the {preset} policy does not contain"),
                around(text, &r),
            ));
        }
    }
    let lower = text.to_lowercase();
    let own = source.to_lowercase();
    let home: &[&str] = HOME_WORDS
        .iter()
        .find(|(p, _)| *p == preset)
        .map(|(_, w)| *w)
        .unwrap_or(&[]);
    for w in watch {
        let wl = w.to_lowercase();
        if lower.contains(&wl) && !own.contains(&wl) && !home.iter().any(|h| h.to_lowercase() == wl) {
            out.push((format!("`{w}` from another preset"), around(&lower, &wl)));
        }
    }
    out
}

/// Some words either side of the first `what` in `text`, for the report.
fn around(text: &str, what: &str) -> String {
    let at = text.find(what).unwrap_or(0);
    let start = (0..=at.saturating_sub(60))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let s: String = text[start..].chars().take(90).collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---- The walk --------------------------------------------------------------------------------

struct Preset {
    name: String,
    source: String,
}

fn presets() -> Vec<Preset> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../presets");
    let mut out: Vec<Preset> = std::fs::read_dir(&dir)
        .expect("presets/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| Preset {
            name: p.file_stem().unwrap().to_string_lossy().into_owned(),
            source: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The words to watch for: every preset's role names (but plain ones) and the home words.
fn watch_list(all: &[Preset]) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for p in all {
        let policy = kehu_domain::Policy::parse(&p.source, &p.name).expect("a shipped preset parses");
        for r in &policy.roles {
            for n in [&r.name.zh, &r.name.en] {
                if !PLAIN.contains(&n.as_str()) && r.id != "admin" {
                    out.insert(n.clone());
                }
            }
        }
    }
    for (_, words) in HOME_WORDS {
        out.extend(words.iter().map(|w| w.to_string()));
    }
    out.into_iter().collect()
}

/// Reads the pages of one preset's demo as one staff member of each role set, in both languages.
fn walk(p: &Preset, watch: &[String]) -> (usize, BTreeMap<String, BTreeSet<String>>) {
    let server = start(&p.name);
    let rules = rule_ids(&p.source);
    let admin = login(server.port, "admin");
    let staff = http(server.port, "GET", "/api/v1/staff", &admin, None).expect("staff");
    let staff: serde_json::Value = serde_json::from_str(&staff.body).expect("staff JSON");
    let mut users: Vec<(String, String)> = Vec::new();
    let mut seen_roles = HashSet::new();
    for s in staff["items"].as_array().expect("items") {
        let roles = s["roles"].to_string();
        if s["active"] == true && seen_roles.insert(roles.clone()) {
            users.push((s["username"].as_str().unwrap().to_string(), roles));
        }
    }
    // Customers 1 to the newest, a dozen spread evenly.
    let newest = http(server.port, "GET", "/api/v1/customers?limit=1", &admin, None).expect("customers");
    let newest: serde_json::Value = serde_json::from_str(&newest.body).expect("customers JSON");
    let newest = newest["items"][0]["id"].as_i64().expect("the demo has customers");
    let step = (newest / CUSTOMERS as i64).max(1);
    let sample: Vec<String> = (0..CUSTOMERS as i64)
        .map(|k| format!("/customers/{}", (1 + k * step).min(newest)))
        .collect();
    let mut failures: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pages = 0;
    for (username, roles) in &users {
        let session = if username == "admin" {
            admin.clone()
        } else {
            login(server.port, username)
        };
        for lang in ["zh", "en"] {
            let cookie = format!("{session}; kehu_lang={lang}");
            let mut queue: VecDeque<String> = [
                "/customers",
                "/customers/new",
                "/claims",
                "/claims/void",
                "/pools",
                "/ledger",
                "/visits",
                "/events",
                "/cases",
                "/admin",
                "/no-such-page",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(sample.iter().cloned())
            .collect();
            let mut done = HashSet::new();
            let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
            let mut read = 0;
            while let Some(path) = queue.pop_front() {
                if read >= PER_USER || !done.insert(path.clone()) {
                    continue;
                }
                let kind = shape(&path);
                let cap = if kind == "/customers/{n}?" {
                    CUSTOMERS
                } else {
                    PER_SHAPE
                };
                let n = shapes.entry(kind).or_default();
                if *n >= cap {
                    continue;
                }
                *n += 1;
                read += 1;
                let a = http(server.port, "GET", &path, &cookie, None).expect("the server answers");
                let at = format!("{} · {lang} · {username} {roles} · {path}", p.name);
                if a.status >= 500 {
                    failures
                        .entry(format!("status {}", a.status))
                        .or_default()
                        .insert(at.clone());
                }
                for (problem, context) in problems(&visible(&a.body), &p.name, &p.source, &rules, watch) {
                    failures
                        .entry(problem)
                        .or_default()
                        .insert(format!("{at}: …{context}…"));
                }
                queue.extend(links(&a.body));
            }
            pages += read;
        }
    }
    drop(server);
    (pages, failures)
}

#[test]
fn every_page_of_every_preset_speaks_its_own_policy() {
    let t0 = Instant::now();
    let all = presets();
    assert!(all.len() >= 4, "the shipped presets: {}", all.len());
    let watch = watch_list(&all);
    let results: Vec<(String, usize, BTreeMap<String, BTreeSet<String>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = all
            .iter()
            .map(|p| {
                let watch = &watch;
                s.spawn(move || {
                    let (n, f) = walk(p, watch);
                    (p.name.clone(), n, f)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a walk")).collect()
    });
    // Each problem once, with the first few pages that show it.
    let mut report = String::new();
    for (name, n, failures) in &results {
        eprintln!("{name}: {n} pages read");
        assert!(*n >= 30, "{name}: only {n} pages were read");
        for (problem, pages) in failures {
            report.push_str(&format!("{name}: {problem}\n"));
            for at in pages.iter().take(2) {
                report.push_str(&format!("    on {at}\n"));
            }
            if pages.len() > 2 {
                report.push_str(&format!("    and {} more\n", pages.len() - 2));
            }
        }
    }
    eprintln!("read in {:.1} s", t0.elapsed().as_secs_f64());
    assert!(
        report.is_empty(),
        "pages that leak another preset's text or raw codes:\n{report}"
    );
}
