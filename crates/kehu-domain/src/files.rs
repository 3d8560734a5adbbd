//! Files attached to a case (licences, ID copies, inspection opinions): what may be attached is
//! the policy's `[limits]` (`max_file_size`, `file_types`). A file's kind is read from its first
//! bytes, never taken from its name or from what the uploader says it is.

use serde::Serialize;

use crate::Policy;
use crate::decision::Refusal;
use crate::text::Text;

/// No file is larger, whatever a policy says: 50 MiB.
pub const MAX_FILE_SIZE: i64 = 50 * 1024 * 1024;
/// The longest file name kept, in characters.
pub const MAX_NAME: usize = 200;

/// The kinds of file Kehu recognises by their content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Pdf,
    Png,
    Jpeg,
    Webp,
}

impl FileKind {
    pub const ALL: [FileKind; 4] = [FileKind::Pdf, FileKind::Png, FileKind::Jpeg, FileKind::Webp];

    pub fn id(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Png => "png",
            FileKind::Jpeg => "jpeg",
            FileKind::Webp => "webp",
        }
    }

    pub fn parse(id: &str) -> Option<FileKind> {
        FileKind::ALL.into_iter().find(|k| k.id() == id)
    }

    /// The media type a download is answered with.
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Png => "image/png",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Webp => "image/webp",
        }
    }

    /// The kind of `bytes`, by their signature.
    pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
        if bytes.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(FileKind::Png)
        } else if bytes.starts_with(b"\xff\xd8\xff") {
            Some(FileKind::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(FileKind::Webp)
        } else {
            None
        }
    }
}

/// A size in words: `33 B`, `2.5 KB`, `10 MB` (one decimal place, none when whole).
pub fn size_words(bytes: i64) -> String {
    let one_place = |x: f64| {
        let s = format!("{x:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    };
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KB", one_place(b as f64 / 1024.0)),
        b => format!("{} MB", one_place(b as f64 / 1_048_576.0)),
    }
}

/// Whether a file named `name` with content `bytes` may be attached: a name of 1 to 200
/// characters without path separators or control characters, at most the policy's
/// `max_file_size`, and of one of its `file_types`. Answers the name as kept and the kind.
pub fn check_file(policy: &Policy, name: &str, bytes: &[u8]) -> Result<(String, FileKind), Refusal> {
    let refuse = |code, zh: String, en: String| Refusal {
        code,
        rule: None,
        text: Text::new(zh, en),
    };
    // A browser may send a whole path; the last part is the name.
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME
        || name.chars().any(char::is_control)
        || name == "."
        || name == ".."
    {
        return Err(refuse(
            "invalid_file_name",
            format!("文件名须为 1 到 {MAX_NAME} 个字符，且不含控制字符"),
            format!("A file name has 1 to {MAX_NAME} characters and no control characters"),
        ));
    }
    let max = policy.limits.max_file_size.min(MAX_FILE_SIZE);
    if bytes.is_empty() {
        return Err(refuse("invalid_file", "文件是空的".into(), "The file is empty".into()));
    }
    if bytes.len() as i64 > max {
        let (size, max) = (size_words(bytes.len() as i64), size_words(max));
        return Err(refuse(
            "file_too_large",
            format!("文件 {size}，超过上限 {max}（见制度 [limits]）"),
            format!("The file is {size}, over the limit of {max} (see the policy's [limits])"),
        ));
    }
    let allowed: Vec<&str> = policy.limits.file_types.iter().map(|k| k.id()).collect();
    match FileKind::sniff(bytes) {
        Some(k) if policy.limits.file_types.contains(&k) => Ok((name.to_string(), k)),
        found => Err(refuse(
            "file_type_not_allowed",
            format!(
                "{}；可上传：{}",
                found.map_or("无法识别的文件类型".to_string(), |k| format!(
                    "不接受 {} 文件",
                    k.id()
                )),
                allowed.join("、")
            ),
            format!(
                "{}; accepted: {}",
                found.map_or("The kind of file is not recognised".to_string(), |k| format!(
                    "{} files are not accepted",
                    k.id()
                )),
                allowed.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> Policy {
        Policy::parse(&format!("{}\n{extra}", crate::policy::tests::SAMPLE), "t.toml").unwrap()
    }

    #[test]
    fn a_file_is_known_by_its_first_bytes_not_its_name() {
        let p = policy("");
        assert_eq!(
            check_file(&p, "执照.pdf", b"%PDF-1.7 ...").unwrap(),
            ("执照.pdf".to_string(), FileKind::Pdf)
        );
        assert_eq!(
            check_file(&p, "C:\\扫描\\身份证.jpg", b"\xff\xd8\xff\xe0rest")
                .unwrap()
                .0,
            "身份证.jpg"
        );
        assert_eq!(
            check_file(&p, "photo.pdf", b"\x89PNG\r\n\x1a\nrest").unwrap().1,
            FileKind::Png
        );
        let e = check_file(&p, "letter.pdf", b"MZ\x90\x00 an executable").unwrap_err();
        assert_eq!(e.code, "file_type_not_allowed");
        assert!(e.text.en.contains("accepted: pdf, png, jpeg"), "{}", e.text.en);
        assert_eq!(check_file(&p, "", b"%PDF-").unwrap_err().code, "invalid_file_name");
        assert_eq!(
            check_file(&p, "a\u{0}.pdf", b"%PDF-").unwrap_err().code,
            "invalid_file_name"
        );
        assert_eq!(check_file(&p, "a.pdf", b"").unwrap_err().code, "invalid_file");
    }

    #[test]
    fn sizes_read_in_bytes_kb_and_mb() {
        assert_eq!(size_words(33), "33 B");
        assert_eq!(size_words(2560), "2.5 KB");
        assert_eq!(size_words(10 * 1024 * 1024), "10 MB");
    }

    #[test]
    fn the_policy_sets_the_size_and_the_kinds() {
        let p = policy("[limits]\nmax_file_size = 1000\nfile_types = [\"png\", \"webp\"]\n");
        assert_eq!(
            check_file(&p, "a.png", &[b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 992]].concat())
                .unwrap()
                .1,
            FileKind::Png
        );
        let big = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 993]].concat();
        assert_eq!(check_file(&p, "a.png", &big).unwrap_err().code, "file_too_large");
        assert_eq!(
            check_file(&p, "a.pdf", b"%PDF-1.4").unwrap_err().code,
            "file_type_not_allowed"
        );
        assert_eq!(
            check_file(&p, "a.webp", b"RIFF\x10\0\0\0WEBPVP8 ").unwrap().1,
            FileKind::Webp
        );
        let bad = format!(
            "{}\n[limits]\nfile_types = [\"pdf\", \"exe\"]\n",
            crate::policy::tests::SAMPLE
        );
        let line = bad.lines().count();
        let e = Policy::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            e.contains(&format!("t.toml:{line}:")) && e.contains("unknown file type `exe`"),
            "{e}"
        );
        let bad = bad.replace("file_types = [\"pdf\", \"exe\"]", "max_file_size = 0");
        assert!(
            Policy::parse(&bad, "t.toml")
                .unwrap_err()
                .to_string()
                .contains("max_file_size = 0")
        );
    }
}
