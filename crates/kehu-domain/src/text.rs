//! Texts shown to users come in the two languages Kehu speaks: Chinese (the default) and English.

use serde::{Deserialize, Serialize};

/// The language a user reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    Zh,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Reads a language tag (`zh-CN`, `zh`, `en`, `en-US`, or an `Accept-Language` header);
    /// anything else falls back to Chinese.
    pub fn from_tag(tag: &str) -> Lang {
        let first = tag.split(',').next().unwrap_or("").trim().to_ascii_lowercase();
        if first.starts_with("en") { Lang::En } else { Lang::Zh }
    }

    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// A sentence or label in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }

    /// Names as a sentence lists them: 「甲」、「乙」 and “A”, “B”.
    pub fn quoted_list(names: &[Text]) -> Text {
        Text::new(
            names
                .iter()
                .map(|n| format!("「{}」", n.zh))
                .collect::<Vec<_>>()
                .join("、"),
            names
                .iter()
                .map(|n| format!("“{}”", n.en))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_fall_back_to_chinese() {
        assert_eq!(Lang::from_tag("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_tag("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::from_tag(""), Lang::Zh);
        assert_eq!(Lang::from_tag("fr"), Lang::Zh);
    }
}
