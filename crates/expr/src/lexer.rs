//! Turns expression source into tokens with absolute byte spans.
//!
//! In template mode the lexer stops at the first `}}` that is not inside a string
//! literal and not closing an object literal, which is how `${{ ... }}` finds its end.

use crate::error::ParseError;
use std::ops::Range;

/// The most tokens one expression may have. Tokens and the nodes parsed from them take
/// about 100 bytes each while the expression is compiled, so without a bound one expression
/// filling a 16 MiB file would need over half a gigabyte; this bound keeps it to a few MB
/// and is far above any expression a person writes (a reference such as
/// `steps.a.output.n` is 7 tokens).
pub const MAX_TOKENS: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'s> {
    Null,
    True,
    False,
    And,
    Or,
    Not,
    In,
    Int(i64),
    /// `9223372036854775808`, one past `i64::MAX`: valid only right after a unary `-`, where
    /// it is `i64::MIN`; anywhere else it is out of range.
    MinIntMagnitude,
    Float(f64),
    Str(String),
    /// A name, as written (a range of the source: lexing copies no name).
    Ident(&'s str),
    Dot,
    Comma,
    Colon,
    Question,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Bang,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
}

impl Tok<'_> {
    /// How the token is shown in "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Int(n) => format!("number `{n}`"),
            Tok::MinIntMagnitude => format!("number `{}`", i64::MIN.unsigned_abs()),
            Tok::Float(n) => format!("number `{n}`"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Ident(name) => format!("name `{name}`"),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Null => "null",
            Tok::True => "true",
            Tok::False => "false",
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::In => "in",
            Tok::Dot => ".",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Question => "?",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Bang => "!",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Int(_) | Tok::MinIntMagnitude | Tok::Float(_) | Tok::Str(_) | Tok::Ident(_) => "",
        }
    }

    /// Keywords may still be used as field names after `.` and as object keys.
    pub(crate) fn as_name(&self) -> Option<&str> {
        match self {
            Tok::Ident(name) => Some(name),
            Tok::Null | Tok::True | Tok::False | Tok::And | Tok::Or | Tok::Not | Tok::In => {
                Some(self.symbol())
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'s> {
    pub tok: Tok<'s>,
    pub span: Range<usize>,
}

/// Lexed expression: its tokens and the byte offset just past it (after `}}` in template mode).
pub(crate) struct Lexed<'s> {
    pub tokens: Vec<Token<'s>>,
    /// In template mode: the span of the closing `}}`.
    pub close: Option<Range<usize>>,
}

/// Lexes `src[start..]`. With `template` set, stops at the closing `}}` and fails if none.
/// `opener` is the span of `${{`, used for the "not closed" error.
pub(crate) fn lex(
    src: &str,
    start: usize,
    opener: Option<Range<usize>>,
) -> Result<Lexed<'_>, ParseError> {
    Lexer {
        src,
        bytes: src.as_bytes(),
        pos: start,
        brace_depth: 0,
    }
    .run(opener)
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    /// Open `{` of object literals, so that `{a: {b: 1}}` does not end the template early.
    brace_depth: usize,
}

impl<'s> Lexer<'s> {
    fn run(mut self, opener: Option<Range<usize>>) -> Result<Lexed<'s>, ParseError> {
        // Room for a short expression's tokens (a token for every four bytes or so).
        let mut tokens = Vec::with_capacity((self.src.len() - self.pos).min(256) / 4 + 2);
        loop {
            self.skip_whitespace();
            if opener.is_some() && self.brace_depth == 0 && self.src[self.pos..].starts_with("}}") {
                let close = self.pos..self.pos + 2;
                return Ok(Lexed {
                    tokens,
                    close: Some(close),
                });
            }
            let Some(&b) = self.bytes.get(self.pos) else {
                return match opener {
                    Some(opener) => Err(ParseError::new("`${{` is not closed", opener).with_help(
                        "end the expression with `}}`; to write a literal `${{`, use `$${{`",
                    )),
                    None => Ok(Lexed {
                        tokens,
                        close: None,
                    }),
                };
            };
            let token = self.token(b)?;
            if tokens.len() == MAX_TOKENS {
                return Err(too_many_tokens(token.span));
            }
            tokens.push(token);
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b) = self.bytes.get(self.pos) {
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn token(&mut self, b: u8) -> Result<Token<'s>, ParseError> {
        let start = self.pos;
        let tok =
            match b {
                b'0'..=b'9' => return self.number(),
                b'\'' | b'"' => return self.string(b),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => return Ok(self.ident()),
                b'.' => self.single(Tok::Dot),
                b',' => self.single(Tok::Comma),
                b':' => self.single(Tok::Colon),
                b'?' => self.single(Tok::Question),
                b'(' => self.single(Tok::LParen),
                b')' => self.single(Tok::RParen),
                b'[' => self.single(Tok::LBracket),
                b']' => self.single(Tok::RBracket),
                b'{' => {
                    self.brace_depth += 1;
                    self.single(Tok::LBrace)
                }
                b'}' => {
                    self.brace_depth = self.brace_depth.saturating_sub(1);
                    self.single(Tok::RBrace)
                }
                b'+' => self.single(Tok::Plus),
                b'-' => self.single(Tok::Minus),
                b'*' => self.single(Tok::Star),
                b'/' => self.single(Tok::Slash),
                b'%' => self.single(Tok::Percent),
                b'!' if self.pair(b'=') => Tok::NotEq,
                b'!' => Tok::Bang,
                b'<' if self.pair(b'=') => Tok::Le,
                b'<' => Tok::Lt,
                b'>' if self.pair(b'=') => Tok::Ge,
                b'>' => Tok::Gt,
                b'=' if self.pair(b'=') => Tok::EqEq,
                b'&' if self.pair(b'&') => Tok::AndAnd,
                b'|' if self.pair(b'|') => Tok::OrOr,
                b'=' | b'&' | b'|' => {
                    let (op, help) = match b {
                        b'=' => ("=", "use `==` to compare values"),
                        b'&' => ("&", "use `&&` (or `and`) for logical and"),
                        _ => ("|", "use `||` (or `or`) for logical or"),
                    };
                    return Err(ParseError::new(
                        format!("`{op}` is not an operator"),
                        start..start + 1,
                    )
                    .with_help(help));
                }
                b'$' => return Err(
                    ParseError::new("unexpected `$`", start..start + 1).with_help(
                        "`${{ }}` marks expressions inside text; here, write the expression itself",
                    ),
                ),
                _ => {
                    let ch = self.src[start..].chars().next().unwrap_or('?');
                    let span = start..start + ch.len_utf8();
                    return Err(if is_invisible(ch) {
                        ParseError::new(
                        format!("invisible character U+{:04X} in the expression", ch as u32),
                        span,
                    )
                    .with_help(
                        "delete it; it is often copied along with text from a web page or a chat",
                    )
                    } else {
                        ParseError::new(format!("unexpected character `{ch}`"), span)
                    });
                }
            };
        Ok(Token {
            tok,
            span: start..self.pos,
        })
    }

    fn single(&mut self, tok: Tok<'s>) -> Tok<'s> {
        self.pos += 1;
        tok
    }

    /// Consumes a two-byte operator whose second byte is `second` (returns true), or
    /// consumes just the first byte (returns false).
    fn pair(&mut self, second: u8) -> bool {
        let matched = self.peek_at(1) == Some(second);
        self.pos += if matched { 2 } else { 1 };
        matched
    }

    /// Names are `[A-Za-z_][A-Za-z0-9_-]*` like GitHub Actions, so step ids such as
    /// `fetch-pages` work; a `-` only belongs to the name when a name character follows it,
    /// which keeps `a- 1` a subtraction.
    fn ident(&mut self) -> Token<'s> {
        let start = self.pos;
        self.pos += 1;
        while let Some(b) = self.peek_at(0) {
            let continues = b.is_ascii_alphanumeric()
                || b == b'_'
                || (b == b'-'
                    && self
                        .peek_at(1)
                        .is_some_and(|n| n.is_ascii_alphanumeric() || n == b'_'));
            if !continues {
                break;
            }
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        let tok = match text {
            "null" => Tok::Null,
            "true" => Tok::True,
            "false" => Tok::False,
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "in" => Tok::In,
            _ => Tok::Ident(text),
        };
        Token {
            tok,
            span: start..self.pos,
        }
    }

    fn number(&mut self) -> Result<Token<'s>, ParseError> {
        let start = self.pos;
        let digits = |lexer: &mut Self| {
            while lexer.peek_at(0).is_some_and(|b| b.is_ascii_digit()) {
                lexer.pos += 1;
            }
        };
        digits(self);
        let mut is_float = false;
        if self.peek_at(0) == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            is_float = true;
            self.pos += 1;
            digits(self);
        }
        if matches!(self.peek_at(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek_at(1), Some(b'+' | b'-')));
            if self.peek_at(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                is_float = true;
                self.pos += 1 + sign;
                digits(self);
            }
        }
        let span = start..self.pos;
        if self
            .peek_at(0)
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            return Err(ParseError::new(
                format!("invalid number `{}`", &self.src[start..=self.pos]),
                start..self.pos + 1,
            ));
        }
        let text = &self.src[span.clone()];
        let tok = if is_float {
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() => match crate::value::exact_int(value) {
                    Some(int) => Tok::Int(int),
                    None => Tok::Float(value),
                },
                _ => return Err(too_large(text, span)),
            }
        } else {
            match text.parse::<i64>() {
                Ok(value) => Tok::Int(value),
                Err(_) if text.parse::<u64>() == Ok(i64::MIN.unsigned_abs()) => {
                    Tok::MinIntMagnitude
                }
                Err(_) => return Err(too_large(text, span)),
            }
        };
        Ok(Token { tok, span })
    }

    fn string(&mut self, quote: u8) -> Result<Token<'s>, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.pos..];
            // Copy the run up to the next quote or backslash in one go.
            let run = rest
                .bytes()
                .position(|b| b == quote || b == b'\\')
                .ok_or_else(|| {
                    ParseError::new("string is not closed", start..self.src.len()).with_help(
                        format!(
                            "add the closing {} quote",
                            if quote == b'"' { "double" } else { "single" }
                        ),
                    )
                })?;
            out.push_str(&rest[..run]);
            self.pos += run;
            if self.bytes[self.pos] == quote {
                // GitHub Actions style: '' inside a single-quoted string is one quote.
                if quote == b'\'' && self.peek_at(1) == Some(b'\'') {
                    out.push('\'');
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                return Ok(Token {
                    tok: Tok::Str(out),
                    span: start..self.pos,
                });
            }
            self.escape(&mut out)?;
        }
    }

    /// Reads one escape sequence starting at the backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let start = self.pos;
        let Some(code) = self.peek_at(1) else {
            return Err(ParseError::new(
                "string is not closed",
                start..self.src.len(),
            ));
        };
        self.pos += 2;
        let ch = match code {
            b'n' => '\n',
            b't' => '\t',
            b'r' => '\r',
            b'0' => '\0',
            b'\\' => '\\',
            b'\'' => '\'',
            b'"' => '"',
            b'u' => return self.unicode_escape(start, out),
            _ => {
                let shown = self.src[start + 1..].chars().next().unwrap_or('?');
                self.pos = start + 1 + shown.len_utf8();
                return Err(ParseError::new(
                    format!("unknown escape `\\{shown}` in string"),
                    start..self.pos,
                )
                .with_help(r#"supported escapes: \n \t \r \0 \\ \' \" \u{1F600}"#));
            }
        };
        out.push(ch);
        Ok(())
    }

    fn unicode_escape(&mut self, start: usize, out: &mut String) -> Result<(), ParseError> {
        let rest = &self.src[self.pos..];
        let invalid = |end: usize| {
            ParseError::new("invalid unicode escape", start..end)
                .with_help(r"write it as \u{XXXX} with 1 to 6 hex digits, e.g. \u{e9}")
        };
        let Some(body) = rest.strip_prefix('{') else {
            return Err(invalid(self.pos));
        };
        let close = body
            .find('}')
            .filter(|&n| (1..=6).contains(&n))
            .ok_or_else(|| invalid(self.pos))?;
        let end = self.pos + close + 2;
        let ch = u32::from_str_radix(&body[..close], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| invalid(end))?;
        out.push(ch);
        self.pos = end;
        Ok(())
    }
}

/// The error for the first token past [`MAX_TOKENS`]: the limit, and what to do.
fn too_many_tokens(span: Range<usize>) -> ParseError {
    ParseError::new(
        format!("the expression is too long: more than {MAX_TOKENS} tokens"),
        span,
    )
    .with_help(format!(
        "an expression may have at most {MAX_TOKENS} tokens (names, numbers, operators, \
         brackets); compute parts of it in earlier steps (`core.set`) and combine their \
         outputs, or go over the data with `for_each`"
    ))
}

pub(crate) fn too_large(text: &str, span: Range<usize>) -> ParseError {
    ParseError::new(format!("number `{text}` is out of range"), span).with_help(
        "integers must fit in 64 bits (±9223372036854775807) and decimals must be finite",
    )
}

/// Characters that show as nothing (or as a plain space): zero-width and direction marks,
/// joiners, non-breaking and other non-ASCII spaces, control characters.
pub fn is_invisible(c: char) -> bool {
    (c.is_whitespace() && c != ' ')
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// The first character of `name` a reader could not see or could take for another: an
/// invisible one, or a Greek, Cyrillic or full-width letter among Latin ones (Cyrillic `а`
/// in `spаce`). Other letters (`café`) are what they look like.
pub fn misleading_char(name: &str) -> Option<char> {
    if let Some(c) = name.chars().find(|&c| is_invisible(c)) {
        return Some(c);
    }
    let lookalike = |c: &char| matches!(c, '\u{0370}'..='\u{03FF}' | '\u{0400}'..='\u{04FF}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}');
    let has_latin_letter = name.chars().any(|c| c.is_ascii_alphabetic());
    name.chars().find(|c| has_latin_letter && lookalike(c))
}
