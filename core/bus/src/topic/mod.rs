//! Topic routing: RabbitMQ's topic-exchange matching of routing keys against binding patterns,
//! and the name rules every implementation enforces.
//!
//! A routing key is a list of words separated by `.`; words may be empty (`a..b` has three
//! words) and the empty key has zero words. In a pattern, a word `*` matches exactly one word
//! and a word `#` matches zero or more words; every other word (including `a*`) matches only
//! itself. This is `rabbit_exchange_type_topic` exactly, so the in-process bus and RabbitMQ
//! route the same message to the same queues.
//!
//! This module does not know about queues; `in_process` maps matched patterns to queues.

use crate::BusError;

#[cfg(test)]
mod tests;

/// Longest exchange name, queue name, routing key or pattern, in bytes (AMQP `shortstr`).
pub const MAX_NAME_BYTES: usize = 255;

/// A parsed binding pattern, e.g. `request.*` or `status.#`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    words: Vec<Word>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    Literal(String),
    /// `*`: exactly one word.
    One,
    /// `#`: zero or more words.
    Any,
}

impl Pattern {
    /// Parses a binding pattern.
    ///
    /// # Errors
    ///
    /// [`BusError::InvalidRoutingKey`] when the pattern is longer than [`MAX_NAME_BYTES`].
    pub fn parse(text: &str) -> Result<Self, BusError> {
        check_routing_key(text)?;
        let words = split(text)
            .map(|word| match word {
                "*" => Word::One,
                "#" => Word::Any,
                literal => Word::Literal(literal.to_owned()),
            })
            .collect();
        Ok(Self {
            text: text.to_owned(),
            words,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `routing_key` matches this pattern under RabbitMQ topic semantics.
    pub fn matches(&self, routing_key: &str) -> bool {
        let key: Vec<&str> = split(routing_key).collect();
        matches_words(&self.words, &key)
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits a key or pattern into words; the empty string has zero words (as in RabbitMQ).
fn split(text: &str) -> impl Iterator<Item = &str> {
    let mut words = text.split('.');
    if text.is_empty() {
        words.next();
    }
    words
}

/// Glob matching over words with backtracking to the last `#`: `*` is glob's `?`, `#` is `*`.
fn matches_words(pattern: &[Word], key: &[&str]) -> bool {
    let (mut p, mut k) = (0, 0);
    // Where to resume if the current attempt fails: (pattern index after the last `#`, key
    // index that `#` should swallow up to next).
    let mut backtrack: Option<(usize, usize)> = None;
    while k < key.len() {
        match pattern.get(p) {
            Some(Word::Any) => {
                backtrack = Some((p + 1, k));
                p += 1;
                continue;
            }
            Some(Word::One) => {
                p += 1;
                k += 1;
                continue;
            }
            Some(Word::Literal(word)) if word == key[k] => {
                p += 1;
                k += 1;
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((after_any, swallowed)) => {
                p = after_any;
                k = swallowed + 1;
                backtrack = Some((after_any, swallowed + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|word| *word == Word::Any)
}

/// Checks a routing key (or pattern) fits AMQP's limits.
///
/// # Errors
///
/// [`BusError::InvalidRoutingKey`] when it is longer than [`MAX_NAME_BYTES`].
pub fn check_routing_key(key: &str) -> Result<(), BusError> {
    if key.len() > MAX_NAME_BYTES {
        return Err(BusError::InvalidRoutingKey {
            key: key.to_owned(),
            reason: "longer than 255 bytes",
        });
    }
    Ok(())
}

/// Checks an exchange or queue name: non-empty, at most [`MAX_NAME_BYTES`], not starting with
/// `amq.` (reserved by AMQP), no whitespace or control characters.
///
/// # Errors
///
/// [`BusError::InvalidName`] naming `kind` (`exchange` or `queue`) and the reason.
pub fn check_name(kind: &'static str, name: &str) -> Result<(), BusError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("it is longer than 255 bytes")
    } else if name.starts_with("amq.") {
        Some("names starting with `amq.` are reserved by AMQP")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains whitespace or control characters")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(BusError::InvalidName {
            kind,
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}
