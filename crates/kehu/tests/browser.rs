//! The web pages in a real browser: Debian's headless Chromium driven through chromedriver.
//!
//! One walk through a working day: a consultant logs in, finds a customer, is warned about a
//! duplicate, registers and claims a new customer; her team leader confirms the claim; she sees
//! the card's time left among her cards (R5.2); the sales manager enters a lateness for her and
//! finds it in the month's statement (R5.17); the admin adds a team and a consultant on the
//! organisation page, and the consultant logs in; the page is read in English and on a
//! phone-sized screen. Assertions are on what a person sees. `KEHU_BROWSER_SHOTS=DIR` saves
//! screenshots of the organisation page there.
//!
//! Needs `/usr/bin/chromium` and `chromedriver` (`scripts/browser-deps` installs them). Without
//! them the test says it is skipped, except under `CI=true`, where it fails.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "kehu-demo";
/// How long one step may wait for the page to show what it should.
const STEP: Duration = Duration::from_secs(10);
/// The whole walk, browser start excluded.
const WALK: Duration = Duration::from_secs(60);

// ---- Processes -------------------------------------------------------------------------------

/// A free port on loopback (bound, read, released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

fn temp_path(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    std::env::temp_dir().join(format!("kehu-browser-{}-{nanos}-{what}", std::process::id()))
}

/// `name` on the PATH, or `None`.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The last lines of a log file, for a failure message.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `kehu demo` on a fresh SQLite file; killed, and its files removed, when dropped.
struct Server {
    child: Child,
    base: String,
    db: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(preset: &str) -> Server {
        let db = temp_path("demo.db");
        let log = temp_path("server.log");
        let port = free_port();
        let out = std::fs::File::create(&log).expect("server log");
        let err = out.try_clone().expect("server log");
        let child = Command::new(env!("CARGO_BIN_EXE_kehu"))
            .arg("demo")
            .args(["--preset", preset])
            .arg("--db")
            .arg(&db)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("KEHU_ADMIN_PASSWORD")
            .env("KEHU_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start kehu demo");
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            db,
            log,
        };
        server.wait_ready(port);
        server
    }

    /// Activates the demo tenant's preset with `extra` appended as its next version, through
    /// `kehu policy activate` beside the running server (which reads it within 2 s).
    fn extend_policy(&self, preset: &str, extra: &str) {
        let src = std::fs::read_to_string(format!("{}/../../presets/{preset}.toml", env!("CARGO_MANIFEST_DIR")))
            .expect("the preset file");
        let version = src
            .lines()
            .find_map(|l| l.strip_prefix("version = "))
            .and_then(|v| v.trim().parse::<u32>().ok())
            .expect("the preset's version");
        let src = format!(
            "{}\n{extra}",
            src.replacen(
                &format!("version = {version}"),
                &format!("version = {}", version + 1),
                1
            )
        );
        let file = temp_path("policy.toml");
        std::fs::write(&file, src).expect("write the policy");
        let out = Command::new(env!("CARGO_BIN_EXE_kehu"))
            .args(["policy", "activate", "--tenant", "demo"])
            .arg("--database-url")
            .arg(format!("sqlite://{}", self.db.display()))
            .arg(&file)
            .env("KEHU_LOG", "warn")
            .output()
            .expect("run kehu policy activate");
        let _ = std::fs::remove_file(&file);
        assert!(
            out.status.success(),
            "kehu policy activate failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(2100));
    }

    /// Polls `GET /login` until it answers 200.
    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("kehu demo exited ({status}):\n{}", tail(&self.log, 30));
            }
            if login_answers(port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kehu demo did not answer GET /login within 30 s:\n{}",
                tail(&self.log, 30)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn login_answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET /login HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && head.ends_with(b"200")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- kehu demo log (last lines) ---\n{}", tail(&self.log, 40));
        }
        for suffix in ["", "-wal", "-shm", "-journal", ".checkpoints.key"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db.display()));
        }
        let _ = std::fs::remove_dir_all(format!("{}.checkpoints", self.db.display()));
        let _ = std::fs::remove_file(&self.log);
    }
}

/// `chromedriver` in a process group of its own, so that a browser left behind by a failed run
/// is ended with it; the browser profile is removed when dropped.
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Driver {
    fn start(chromedriver: &Path) -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let profile = temp_path("profile");
        std::fs::create_dir_all(&profile).expect("browser profile dir");
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited at start ({status})");
            }
            assert!(Instant::now() < deadline, "chromedriver did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group this driver leads (its id is the driver's): the driver and any browser it
        // started that the session did not close.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

// ---- The browser -----------------------------------------------------------------------------

async fn open_browser(driver: &Driver) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1280,900",
                "--lang=zh-CN",
                format!("--user-data-dir={}", driver.profile.display()),
            ],
            // A browser set to Chinese, as the staff's are: the pages follow Accept-Language.
            "prefs": { "intl.accept_languages": "zh-CN,zh" },
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("an object")
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("chromedriver could not start {CHROMIUM}: {e}"));
    client
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(20)),
            Some(Duration::ZERO),
        ))
        .await
        .expect("set timeouts");
    client
}

/// The browser on the demo site, with waits that fail with what the page showed.
#[derive(Clone)]
struct Browser {
    c: Client,
    base: String,
}

impl Browser {
    async fn goto(&self, path: &str) -> Result<(), CmdError> {
        self.c.goto(&format!("{}{path}", self.base)).await
    }

    /// The current path and query, e.g. `/login?next=%2Fcustomers`.
    async fn path(&self) -> Result<String, CmdError> {
        let u = self.c.current_url().await?;
        Ok(match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        })
    }

    /// Waits for an element.
    async fn el(&self, css: &str) -> Result<Element, CmdError> {
        self.c
            .wait()
            .at_most(STEP)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
    }

    /// Waits for an element and returns its visible text.
    async fn text(&self, css: &str) -> Result<String, CmdError> {
        self.el(css).await?.text().await
    }

    async fn texts(&self, css: &str) -> Result<Vec<String>, CmdError> {
        let mut out = Vec::new();
        for e in self.c.find_all(Locator::Css(css)).await? {
            out.push(e.text().await?);
        }
        Ok(out)
    }

    /// Waits for the page of the given kind (`<body data-page=...>`).
    async fn on_page(&self, page: &str) -> Result<(), CmdError> {
        self.el(&format!("body[data-page='{page}']")).await.map(drop)
    }

    /// Clicks an element that leaves the page, and waits until the next page of the given kind
    /// has loaded. The old document is marked first, so a page of the same kind (a form that
    /// comes back to its own page) only counts once it is new.
    async fn click_to(&self, el: &Element, page: &str) -> Result<(), CmdError> {
        self.js("document.documentElement.setAttribute('data-left', '')")
            .await?;
        el.click().await?;
        let next = format!("html:not([data-left]) > body[data-page='{page}']");
        let deadline = Instant::now() + STEP;
        loop {
            match self.el(&next).await {
                Ok(_) => return Ok(()),
                // While the old document is torn down the driver may answer with a passing
                // error about nodes that no longer belong to it: ask again.
                Err(CmdError::Standard(e)) if Instant::now() < deadline && e.error != ErrorStatus::NoSuchElement => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn click_css_to(&self, css: &str, page: &str) -> Result<(), CmdError> {
        let el = self.el(css).await?;
        self.click_to(&el, page).await
    }

    async fn fill(&self, css: &str, value: &str) -> Result<(), CmdError> {
        let el = self.el(css).await?;
        el.clear().await?;
        el.send_keys(value).await
    }

    /// A script's answer.
    async fn js(&self, script: &str) -> Result<serde_json::Value, CmdError> {
        self.c.execute(script, Vec::new()).await
    }

    /// What the page shows, for a failure message.
    async fn describe(&self) -> String {
        let url = self.c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let body = self
            .js("return document.body ? document.body.innerText : ''")
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let body: String = body.chars().take(1500).collect();
        format!("at {url}:\n{body}")
    }
}

// ---- The walk --------------------------------------------------------------------------------

async fn walk(b: Browser) -> Result<(), CmdError> {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("  {:>6.2} s  {what}", t0.elapsed().as_secs_f64());

    // Logged out, the customer list sends the browser to the login page, in Chinese.
    b.goto("/customers").await?;
    b.on_page("login").await?;
    let path = b.path().await?;
    assert!(
        path.starts_with("/login?next="),
        "redirected to the login page, not {path}"
    );
    assert_eq!(b.text("h1").await?, "登录");
    assert_eq!(b.text("label[for=username]").await?, "用户名");
    assert_eq!(b.text("label[for=password]").await?, "密码");
    assert_eq!(b.js("return document.documentElement.lang").await?, "zh-CN");
    lap("logged out: /customers shows the Chinese login page");

    // wangfang logs in through the form and is back on the customer list.
    b.fill("#username", "wangfang").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "customers").await?;
    assert_eq!(b.path().await?, "/customers");
    assert_eq!(b.text("h1").await?, "客户列表");
    assert!(
        b.text(".userbar .user").await?.contains("王芳"),
        "the top bar names her"
    );
    lap("wangfang logged in: customer list");

    // She searches for 张三 and opens the card.
    b.fill("#q", "张三").await?;
    b.click_css_to("[data-test=search-submit]", "customers").await?;
    assert!(b.path().await?.contains("q="), "the search is in the address");
    b.el("[data-test=customer-list]").await?;
    let mut zhangsan = None;
    for link in b.c.find_all(Locator::Css("[data-test=customer-name] a")).await? {
        if link.text().await? == "张三" {
            zhangsan = Some(link);
            break;
        }
    }
    let names = b.texts("[data-test=customer-name] a").await?;
    let zhangsan = zhangsan.unwrap_or_else(|| panic!("张三 is among the results {names:?}"));
    b.click_to(&zhangsan, "customer").await?;
    assert_eq!(b.text("[data-test=customer-name]").await?, "张三");
    let decision = b.text("[data-test=decision]").await?;
    assert!(
        decision.starts_with('归') || decision.starts_with("暂无归属"),
        "the ownership sentence: {decision}"
    );
    let rule = b.text("#ownership .badge-rule").await?;
    assert!(
        rule.starts_with('R') && rule[1..].contains('.') && rule[1..].chars().all(|c| c.is_ascii_digit() || c == '.'),
        "a rule badge like R5.5: {rule}"
    );
    let owner = b.text("[data-test=owner]").await?;
    let phone = b.text("[data-test=phone]").await?;
    assert!(
        phone.chars().filter(char::is_ascii_digit).count() >= 7,
        "a phone: {phone}"
    );
    lap(&format!("张三: {decision} [{rule}], phone {phone}"));

    // A new customer with 张三's phone: the live hint while typing, the warning on submit.
    b.goto("/customers/new").await?;
    b.on_page("customer-new").await?;
    assert_eq!(b.text("h1").await?, "登记新客户");
    b.fill("#name", "李四").await?;
    b.fill("#phones", &phone).await?;
    b.el("#name").await?.click().await?; // leaving the field runs the check
    let hint =
        b.c.wait()
            .at_most(Duration::from_secs(5))
            .every(Duration::from_millis(50))
            .for_element(Locator::Css("[data-dups-for=phones] .live-dup a"))
            .await?;
    assert_eq!(hint.text().await?, "张三", "the live hint names the customer");
    let hint_row = b.text("[data-dups-for=phones] .live-dup").await?;
    assert!(hint_row.contains("可能重复"), "the live hint: {hint_row}");
    lap(&format!("live duplicate hint: {}", hint_row.replace('\n', " ")));

    b.click_css_to("[data-test=register]", "customer-new").await?;
    let warning = b.text("[data-test=duplicates]").await?;
    assert!(warning.contains("该客户已经登记过"), "the duplicate warning: {warning}");
    assert!(
        b.texts("[data-test=duplicates] .dup-name")
            .await?
            .iter()
            .any(|n| n == "张三"),
        "the warning names 张三: {warning}"
    );
    assert!(
        warning.contains(&owner) || warning.contains("暂无归属"),
        "the warning names the owner {owner}: {warning}"
    );
    lap("duplicate phone refused with a warning naming 张三");

    // A fresh customer, then her claim on it: pending until the leader confirms.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let name = format!("浏览器测试{}", nanos % 10_000);
    let new_phone = format!("199{:08}", nanos % 100_000_000);
    b.goto("/customers/new").await?;
    b.on_page("customer-new").await?;
    b.fill("#name", &name).await?;
    b.fill("#phones", &new_phone).await?;
    // Straight from the phone field to 登记: the duplicate check that leaving the field starts
    // must not move the button under the pointer (it once did, and the first click was lost).
    b.click_css_to("[data-test=register]", "customer").await?;
    let detail = b.path().await?;
    assert!(
        detail.starts_with("/customers/") && detail.ends_with("?done=created"),
        "lands on the new card: {detail}"
    );
    let detail = detail.trim_end_matches("?done=created").to_string();
    assert_eq!(b.text("[data-test=customer-name]").await?, name);
    assert!(b.text("[data-test=decision]").await?.starts_with("暂无归属"));
    let claim = b.el("[data-test=claim]").await?;
    assert_eq!(claim.text().await?, "登记为我的客户");
    b.click_to(&claim, "customer").await?;
    assert_eq!(b.text("[data-test=claim-status]").await?, "待确认");
    let decision = b.text("[data-test=decision]").await?;
    assert!(
        decision.starts_with("暂无归属") && decision.contains("王芳") && decision.contains("待确认"),
        "pending: {decision}"
    );
    lap(&format!("registered {name} ({new_phone}) and claimed it: {decision}"));

    // Her team leader confirms it.
    b.click_css_to("[data-test=logout]", "login").await?;
    b.goto(&detail).await?;
    b.on_page("login").await?;
    b.fill("#username", "leader1").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "customer").await?;
    assert_eq!(b.path().await?, detail, "back on the card after logging in");
    assert!(b.text(".userbar .user").await?.contains("周组长"));
    b.click_css_to("[data-test=confirm]", "customer").await?;
    let decision = b.text("[data-test=decision]").await?;
    assert!(
        decision.starts_with("归王芳所有") && decision.contains("销售组长"),
        "confirmed: {decision}"
    );
    assert_eq!(b.text("[data-test=claim-status]").await?, "有效");
    lap(&format!("leader1 confirmed: {decision}"));

    // Her cards: the new one, with the first follow-up due and the time left (R5.2).
    b.click_css_to("[data-test=logout]", "login").await?;
    b.goto("/claims").await?;
    b.on_page("login").await?;
    b.fill("#username", "wangfang").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "claims").await?;
    assert_eq!(b.text("h1").await?, "我的登记");
    let mut left = None;
    for row in b.c.find_all(Locator::Css("[data-test=standing] tbody tr")).await? {
        if row.find(Locator::Css("td.name")).await?.text().await? == name {
            left = Some(row.find(Locator::Css("[data-test=time-left]")).await?.text().await?);
            break;
        }
    }
    let left = left.unwrap_or_else(|| panic!("{name} is among her standing cards"));
    assert!(left.starts_with("剩 2 天"), "three days less a moment: {left}");
    lap(&format!("wangfang's cards: {name} {left}"));

    // The sales manager enters a lateness for her and sees it in the month's statement (R5.17).
    b.click_css_to("[data-test=logout]", "login").await?;
    b.goto("/ledger").await?;
    b.on_page("login").await?;
    b.fill("#username", "manager").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "ledger").await?;
    b.el("#add-staff").await?.select_by_label("王芳").await?;
    b.el("#add-code").await?.select_by_value("lateness").await?;
    let note = format!("迟到{}", nanos % 10_000);
    b.fill("#add-note", &note).await?;
    b.click_css_to("[data-test=ledger-add-submit]", "ledger").await?;
    assert!(b.path().await?.contains("done=added"), "the entry was added");
    let mut amount = None;
    for row in b.c.find_all(Locator::Css("[data-test=entries] tbody tr")).await? {
        if row.text().await?.contains(&note) {
            assert!(row.text().await?.contains("迟到"), "the code's name");
            amount = Some(row.find(Locator::Css("[data-test=amount]")).await?.text().await?);
            break;
        }
    }
    let amount = amount.unwrap_or_else(|| panic!("the entry {note} is listed"));
    let mut fines = None;
    for row in b.c.find_all(Locator::Css("[data-test=statement] tbody tr")).await? {
        if row.find(Locator::Css("td.name")).await?.text().await? == "王芳" {
            fines = Some(row.find(Locator::Css("[data-test=fines]")).await?.text().await?);
            break;
        }
    }
    let fines = fines.expect("王芳 is in the statement");
    let yuan = |s: &str| s.trim().parse::<f64>().unwrap_or(f64::NAN);
    assert!(
        yuan(&amount) >= 20.0 && yuan(&fines) >= yuan(&amount),
        "lateness {amount}, her month's fines {fines}"
    );
    lap(&format!(
        "manager entered lateness {amount} for 王芳; her fines this month {fines}"
    ));
    b.goto(&detail).await?;
    b.on_page("customer").await?;

    // The manager records the sale on the card; it counts for the owner, who came in by phone
    // rather than by a friend's referral (R5.5, R5.7).
    b.fill("#sale-amount", "128000").await?;
    b.click_css_to("[data-test=sale-record]", "customer").await?;
    let sale = b.text("[data-test=sales] li").await?;
    assert!(
        sale.contains("128000.00") && sale.contains("业绩归 王芳"),
        "the sale: {sale}"
    );
    lap(&format!("manager recorded a sale: {}", sale.replace('\n', " ")));

    // The admin sets the company up on the organisation page: a new team under the sales
    // department, and a consultant in it, who then logs in (issue 8 §5).
    b.click_css_to("[data-test=logout]", "login").await?;
    b.goto("/admin").await?;
    b.on_page("login").await?;
    b.fill("#username", "admin").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "admin-org").await?;
    assert_eq!(b.text("h1").await?, "组织与员工");
    assert_eq!(b.text("[data-test=nav-org][aria-current=page]").await?, "组织与员工");
    shot(&b, "admin-org-before").await?;
    let team = format!("销售{}组", nanos % 1_000);
    b.fill("#new-unit-name", &team).await?;
    let sales = b
        .js("return Array.from(document.querySelectorAll('#new-unit-parent option')).find(o => o.text.trim() === '销售部').value")
        .await?;
    let sales = sales.as_str().expect("销售部 is a parent to choose").to_string();
    b.el("#new-unit-parent").await?.select_by_value(&sales).await?;
    b.click_css_to("[data-test=unit-add-submit]", "admin-org").await?;
    assert!(b.text("[data-test=flash]").await?.contains("单位已添加"));
    let unit_id =
        b.c.current_url()
            .await?
            .fragment()
            .unwrap_or_default()
            .trim_start_matches("unit-")
            .to_string();
    let line = b.text(&format!("#unit-{unit_id}")).await?;
    assert!(
        line.contains(&team) && line.contains("0 人"),
        "the new team in the tree: {line}"
    );
    let depth = b
        .js(&format!("return document.getElementById('unit-{unit_id}').className"))
        .await?;
    assert_eq!(depth, "org-unit depth-2", "under the company's sales department");
    lap(&format!("admin added the unit {team} under 销售部"));

    let username = format!("zhaomin{}", nanos % 10_000);
    b.fill("#new-staff-name", "赵敏").await?;
    b.fill("#new-staff-username", &username).await?;
    b.el("#new-staff-unit").await?.select_by_value(&unit_id).await?;
    b.el("#add-staff input[name=roles][value=consultant]")
        .await?
        .click()
        .await?;
    b.fill("#new-staff-password", "first-day-2024").await?;
    b.click_css_to("[data-test=staff-add-submit]", "admin-org").await?;
    assert!(b.text("[data-test=flash]").await?.contains("员工已添加"));
    let row = b.text(&format!("[data-username='{username}']")).await?;
    assert!(
        row.contains("赵敏") && row.contains(&team) && row.contains("销售顾问") && row.contains("在职"),
        "the new consultant: {row}"
    );
    assert!(b.text(&format!("#unit-{unit_id}")).await?.contains("1 人"));
    shot(&b, "admin-org-after").await?;
    // Her edit form holds her roles, checked.
    b.el(&format!("[data-username='{username}'] [data-test=staff-edit]"))
        .await?
        .click()
        .await?;
    let checked = b
        .js(&format!(
            "return Array.from(document.querySelectorAll(\"[data-username='{username}'] input[name=roles]:checked\")).map(i => i.value)"
        ))
        .await?;
    assert_eq!(checked, json!(["consultant"]), "her roles in the edit form");
    shot(&b, "admin-org-edit").await?;
    lap(&format!("admin added 赵敏 ({username}) to {team} as a consultant"));

    b.click_css_to("[data-test=logout]", "login").await?;
    b.fill("#username", &username).await?;
    b.fill("#password", "first-day-2024").await?;
    b.click_css_to("[data-test=login-submit]", "today").await?;
    assert!(b.text(".userbar .user").await?.contains("赵敏"));
    assert_eq!(
        b.text("[data-test=today-empty] .empty-title").await?,
        "没有待办事项",
        "a new consultant has nothing waiting yet"
    );
    assert!(
        b.c.find_all(Locator::Css("[data-test=nav-org]")).await?.is_empty(),
        "a consultant has no organisation entry"
    );
    lap(&format!("{username} logged in with the initial password"));
    b.click_css_to("[data-test=logout]", "login").await?;
    b.goto(&detail).await?;
    b.on_page("login").await?;
    b.fill("#username", "manager").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "customer").await?;

    // The same card in English.
    b.click_css_to("[data-test=lang-switch]", "customer").await?;
    let back = b.path().await?;
    assert!(
        back.starts_with(&detail),
        "the switch comes back to the page, not {back}"
    );
    assert_eq!(b.js("return document.documentElement.lang").await?, "en");
    assert_eq!(b.text("#ownership-h").await?, "Ownership");
    assert_eq!(b.text("nav.nav a[href='/customers']").await?, "Customers");
    let decision = b.text("[data-test=decision]").await?;
    assert!(decision.starts_with("Owned by 王芳"), "English decision: {decision}");
    lap(&format!("English: {decision}"));

    // On a phone, nothing is wider than the screen.
    b.goto("/customers").await?;
    b.on_page("customers").await?;
    b.c.set_window_size(390, 844).await?;
    let mut widths = Vec::new();
    for path in ["/customers", &detail, "/customers/new", "/claims", "/ledger", "/admin"] {
        if b.path().await? != path {
            b.goto(path).await?;
        }
        b.el("main").await?;
        let (scroll, inner) = wait_layout(&b).await?;
        assert!(
            scroll <= inner,
            "{path} scrolls sideways on a 390 px phone: scrollWidth {scroll} > innerWidth {inner}"
        );
        widths.push(format!("{scroll}/{inner}"));
    }
    // The organisation page with a unit's and a staff member's edit forms open.
    b.el("[data-test=unit-edit]").await?.click().await?;
    b.el(&format!("[data-username='{username}'] [data-test=staff-edit]"))
        .await?
        .click()
        .await?;
    b.el(&format!("[data-username='{username}'] [data-test=staff-deactivate]"))
        .await?;
    let (scroll, inner) = wait_layout(&b).await?;
    assert!(
        scroll <= inner,
        "/admin with its edit forms open scrolls sideways on a 390 px phone: scrollWidth {scroll} > innerWidth {inner}"
    );
    widths.push(format!("{scroll}/{inner}"));
    shot(&b, "admin-org-phone").await?;
    lap(&format!(
        "390x844: no sideways scrolling on the list, the card, the form, the cards, the ledger and the organisation page (scrollWidth/innerWidth {})",
        widths.join(", ")
    ));
    Ok(())
}

/// With `KEHU_BROWSER_SHOTS=DIR`, saves the page a screen at a time as `DIR/NAME-0.png`,
/// `DIR/NAME-1.png`, ... (from the top), for a person to look at.
/// On a 390x844 phone, none of `paths` scrolls sideways.
async fn fits_phone(b: &Browser, paths: &[&str]) -> Result<(), CmdError> {
    b.c.set_window_size(390, 844).await?;
    for path in paths {
        b.goto(path).await?;
        b.el("main").await?;
        let (scroll, inner) = wait_layout(b).await?;
        assert!(
            scroll <= inner,
            "{path} scrolls sideways on a 390 px phone: scrollWidth {scroll} > innerWidth {inner}"
        );
    }
    Ok(())
}

async fn shot(b: &Browser, name: &str) -> Result<(), CmdError> {
    let Some(dir) = std::env::var_os("KEHU_BROWSER_SHOTS") else {
        return Ok(());
    };
    let size = b
        .js("return [window.innerHeight, document.documentElement.scrollHeight, window.scrollY]")
        .await?;
    let (screen, full, was) = (
        size[0].as_u64().unwrap_or(800).max(1),
        size[1].as_u64().unwrap_or(800),
        size[2].as_u64().unwrap_or(0),
    );
    for i in 0..full.div_ceil(screen).min(12) {
        b.js(&format!("window.scrollTo(0, {})", i * screen)).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let path = Path::new(&dir).join(format!("{name}-{i}.png"));
        let png = b.c.screenshot().await?;
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
    b.js(&format!("window.scrollTo(0, {was})")).await?;
    Ok(())
}

/// The page's scroll width and the window's inner width, once the window has its phone size.
async fn wait_layout(b: &Browser) -> Result<(u64, u64), CmdError> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let v = b
            .js("return [document.documentElement.scrollWidth, window.innerWidth]")
            .await?;
        let scroll = v[0].as_u64().unwrap_or(u64::MAX);
        let inner = v[1].as_u64().unwrap_or(0);
        if inner <= 400 || Instant::now() > deadline {
            assert!(inner <= 400, "the window did not shrink to a phone's width: {inner}");
            return Ok((scroll, inner));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- The test --------------------------------------------------------------------------------

/// One walk at a time: each starts a demo server and a browser, which share two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_day_in_the_browser() {
    run("car-dealership", None, |b| Box::pin(walk(b))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joint_events_in_the_browser() {
    run("event-customers", None, |b| Box::pin(events_walk(b))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_of_the_companys_own_in_the_browser() {
    run("car-dealership", Some(CREDIT_LINE), |b| Box::pin(cases_walk(b))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_project_in_the_browser() {
    run("new-customer-development", None, |b| Box::pin(development_walk(b))).await;
}

type Walk = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), CmdError>> + Send>>;

/// Starts `kehu demo --preset PRESET` (with `extra` appended to its policy) and a browser, and
/// walks it.
async fn run(preset: &str, extra: Option<&str>, walk: fn(Browser) -> Walk) {
    let chromedriver = which("chromedriver");
    let Some(chromedriver) = chromedriver.filter(|_| Path::new(CHROMIUM).is_file()) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{CHROMIUM} or chromedriver is not installed, and CI=true requires this test to run: \
                 run scripts/browser-deps (apt-get install chromium chromium-driver)"
            );
        }
        println!("skipped: chromium/chromedriver not installed (apt-get install chromium chromium-driver)");
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    let server = Server::start(preset);
    if let Some(extra) = extra {
        server.extend_policy(preset, extra);
    }
    let driver = Driver::start(&chromedriver);
    let client = open_browser(&driver).await;
    eprintln!(
        "browser test ({preset}): server and browser up in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let b = Browser {
        c: client.clone(),
        base: server.base.clone(),
    };
    let mut run = tokio::spawn(walk(b.clone()));
    let outcome = tokio::time::timeout(WALK, &mut run).await;
    let failure = match outcome {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(e))) => Some(format!("a browser command failed: {e}")),
        Ok(Err(join)) => {
            eprintln!("page {}", b.describe().await);
            let _ = client.close().await;
            match join.try_into_panic() {
                Ok(p) => std::panic::resume_unwind(p),
                Err(e) => panic!("the walk was cancelled: {e}"),
            }
        }
        Err(_) => {
            run.abort();
            Some(format!("the walk took longer than {} s", WALK.as_secs()))
        }
    };
    if let Some(f) = failure {
        let page = b.describe().await;
        let _ = client.close().await;
        panic!("{f}\npage {page}");
    }
    client.close().await.expect("close the browser");
    drop(driver);
    drop(server);
    eprintln!(
        "browser test ({preset}): done in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

/// Joint events (R11.3) on the event-customers demo: the second division's head files the
/// division's invitations from the event page, and the event and complaint pages fit a phone.
async fn events_walk(b: Browser) -> Result<(), CmdError> {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("  {:>6.2} s  {what}", t0.elapsed().as_secs_f64());
    b.goto("/events").await?;
    b.on_page("login").await?;
    b.fill("#username", "divisionhead2").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "events").await?;
    assert_eq!(b.text("h1").await?, "联合会议");
    b.click_css_to("[data-test=events] td.name a", "event").await?;
    let event = b.path().await?;
    let divisions = b.texts("[data-test=division] h2").await?;
    assert_eq!(divisions, ["一部", "二部"], "the event's divisions in order");
    // A division head sees the invitations of their own division (their `unit` scope), not the
    // other division's.
    let states = b.texts("[data-test=invitation-state]").await?;
    assert_eq!(states.len(), 3, "the second division's invitations only: {states:?}");
    lap(&format!("{event}: {} invitations, {}", states.len(), states.join(" ")));
    b.click_css_to("[data-test=file-invitations]", "event").await?;
    assert!(b.text(".alert-success").await?.contains("已报送本部门的邀约"));
    assert!(
        b.c.find_all(Locator::Css("[data-test=file-invitations]"))
            .await?
            .is_empty()
    );
    lap("divisionhead2 filed the division's invitations");

    b.c.set_window_size(390, 844).await?;
    let mut widths = Vec::new();
    for path in ["/events", event.as_str(), "/cases?workflow=complaint", "/customers"] {
        b.goto(path).await?;
        b.el("main").await?;
        let (scroll, inner) = wait_layout(&b).await?;
        assert!(
            scroll <= inner,
            "{path} scrolls sideways on a 390 px phone: scrollWidth {scroll} > innerWidth {inner}"
        );
        widths.push(format!("{scroll}/{inner}"));
    }
    lap(&format!(
        "390x844: no sideways scrolling on the events, the event, the complaints and the list ({})",
        widths.join(", ")
    ));
    Ok(())
}

/// A workflow of the company's own (docs/examples/credit-line.toml), added to the demo's policy.
const CREDIT_LINE: &str = include_str!("../../../docs/examples/credit-line.toml");

/// The case pages on a workflow no rulebook has: a consultant opens a credit line from a
/// customer's page with the form built from its fields, sees the case on the workflow's diagram
/// and what it waits for; the general manager finds it among the cases and approves it; the
/// pages fit a phone.
async fn cases_walk(b: Browser) -> Result<(), CmdError> {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("  {:>6.2} s  {what}", t0.elapsed().as_secs_f64());
    b.goto("/claims").await?;
    b.on_page("login").await?;
    b.fill("#username", "wangfang").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "claims").await?;
    // One of her customers, from her cards.
    b.click_css_to("td.name a[href^='/customers/']", "customer").await?;
    let customer = b.text("[data-test=customer-name]").await?;
    b.click_css_to("[data-test=open-credit_line]", "case-new").await?;
    assert!(b.text("h1").await?.contains("授信申请"));
    b.fill("[data-field=amount]", "80,000").await?;
    b.fill("[data-field=reason]", "年底备货").await?;
    b.click_css_to("[data-test=case-open-submit]", "case").await?;
    assert!(b.text(".alert-success").await?.contains("案件已开启"));
    assert_eq!(b.text("[data-test=case-state]").await?, "待审批");
    let current = b.text(".wf-current text").await?;
    assert_eq!(current, "待审批", "the diagram marks the state");
    let waiting = b.text("[data-test=waiting-on]").await?;
    assert!(waiting.contains("批准") && waiting.contains("总经理"), "{waiting}");
    let fields = b.text("[data-test=fields]").await?;
    assert!(
        fields.contains("80000.00 元") && fields.contains("年底备货"),
        "{fields}"
    );
    assert!(b.text("[data-test=timers]").await?.contains("审批提醒"));
    let case = b.path().await?;
    let case = case.split('?').next().unwrap_or_default().to_string();
    lap(&format!("wangfang opened {case} for {customer}: {waiting}"));
    shot(&b, "case-opened").await?;

    b.click_css_to("[data-test=logout]", "login").await?;
    b.fill("#username", "gm").await?;
    b.fill("#password", PASSWORD).await?;
    // He lands on Today, his home: the case waits for him there, counted in the menu.
    b.click_css_to("[data-test=login-submit]", "today").await?;
    assert_eq!(b.text("h1").await?, "今日待办");
    let count = b.text("[data-test=nav-today-count]").await?;
    assert!(
        count.chars().any(|ch| ch.is_ascii_digit()),
        "the menu counts what waits: {count}"
    );
    let todo = format!("[data-test=todo-link][href='{case}']");
    let line = b.text(&format!("li[data-kind=case]:has({todo})")).await?;
    assert!(
        line.contains("授信申请") && line.contains("批准") && line.contains(&customer),
        "{line}"
    );
    shot(&b, "today").await?;
    b.click_css_to(&todo, "case").await?;
    b.fill("#note-approve", "客户信用良好").await?;
    b.click_css_to("[data-test=take-approve]", "case").await?;
    assert!(b.text(".alert-success").await?.contains("已办理"));
    assert_eq!(b.text("[data-test=case-state]").await?, "已批准");
    assert_eq!(b.text(".wf-current text").await?, "已批准");
    let steps = b.text("[data-test=steps]").await?;
    assert!(
        steps.contains("赵总（总经理）") && steps.contains("客户信用良好"),
        "{steps}"
    );
    lap("gm found it on Today and approved it; the steps name him and his reason");
    // He attaches the signed approval from the case page's form; it is listed for download.
    let scan = temp_path("批准书.pdf");
    std::fs::write(&scan, b"%PDF-1.7\n% signed approval\n%%EOF\n").expect("a file to upload");
    b.c.find(Locator::Css("#file-input"))
        .await?
        .send_keys(scan.to_str().expect("a UTF-8 path"))
        .await?;
    b.click_css_to("[data-test=attach-submit]", "case").await?;
    assert!(b.text(".alert-success").await?.contains("附件已上传"));
    let listed = b.text("[data-test=file]").await?;
    assert!(
        listed.contains("批准书.pdf") && listed.contains("PDF") && listed.contains("赵总"),
        "{listed}"
    );
    std::fs::remove_file(&scan).ok();
    shot(&b, "case-files").await?;
    lap("he attached the signed approval; the case lists it");
    b.goto("/today").await?;
    b.on_page("today").await?;
    assert!(
        b.c.find_all(Locator::Css(&todo)).await?.is_empty(),
        "approved, it no longer waits for him"
    );
    shot(&b, "case-approved").await?;

    fits_phone(&b, &["/today", "/cases", case.as_str()]).await?;
    shot(&b, "case-phone").await?;
    lap("390x844: Today, the cases list and the case page do not scroll sideways");
    Ok(())
}

/// A development project (R12) on its demo: the developer finds a project in development,
/// records a cost against a budget line from the form (the line suggested from the budget), and
/// sees the budget-execution card; an overspend is refused in words with the rule; the pages fit
/// a phone.
async fn development_walk(b: Browser) -> Result<(), CmdError> {
    let t0 = Instant::now();
    let lap = |what: &str| eprintln!("  {:>6.2} s  {what}", t0.elapsed().as_secs_f64());
    b.goto("/cases").await?;
    b.on_page("login").await?;
    b.fill("#username", "developer1").await?;
    b.fill("#password", PASSWORD).await?;
    b.click_css_to("[data-test=login-submit]", "cases").await?;
    b.goto("/cases?workflow=development_project&state=developing").await?;
    b.on_page("cases").await?;
    b.click_css_to("[data-test=case-list] td a[href^='/cases/']", "case")
        .await?;
    let case = b.path().await?;
    assert_eq!(b.text("[data-test=case-state]").await?, "开发中");
    assert!(b.text("[data-test=budget]").await?.contains("差旅费"));
    lap(&format!("{case}: a project in development with its budget"));
    b.fill("[data-test=action-expense] [data-field=line]", "差旅费").await?;
    b.fill("[data-test=action-expense] [data-field=amount]", "1,200")
        .await?;
    b.click_css_to("[data-test=take-expense]", "case").await?;
    assert!(b.text(".alert-success").await?.contains("已办理"));
    assert_eq!(b.text("[data-test=budget-spent]").await?, "1200.00");
    lap("recorded a cost of 1,200 yuan against 差旅费");
    // 差旅费 has 10,000 yuan: 10,500 with the 5% tolerance.
    b.fill("[data-test=action-expense] [data-field=line]", "差旅费").await?;
    b.fill("[data-test=action-expense] [data-field=amount]", "9400").await?;
    b.click_css_to("[data-test=take-expense]", "case").await?;
    let refused = b.text(".alert-error").await?;
    assert!(refused.contains("R12.7") && refused.contains("105%"), "{refused}");
    assert_eq!(
        b.text("[data-test=budget-spent]").await?,
        "1200.00",
        "nothing was recorded"
    );
    lap("an overspend of the line is refused with R12.7");
    shot(&b, "development-case").await?;

    fits_phone(&b, &["/cases", case.as_str()]).await?;
    shot(&b, "development-phone").await?;
    lap("390x844: the cases list and the project page do not scroll sideways");
    Ok(())
}
