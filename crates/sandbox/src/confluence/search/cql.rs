//! A useful subset of CQL: fields `type`, `space` (`space.key`), `title`, `text`, `siteSearch`,
//! `label`, `creator`, `contributor`, `created`, `lastmodified`, `id`, `parent`, `ancestor`,
//! `container`; operators
//! `= != ~ !~ > >= < <= in, not in`; `and`, `or`, `not`, parentheses; `order by`.
//! Dates are minute-granular and read in the user's time zone, like Confluence's.
//!
//! Hostile queries are refused, not followed: `and`/`or` chains are flat lists and parentheses
//! and `not` may nest at most [`MAX_NESTING`] deep (the parser, checker and evaluator recurse
//! once per level), and date offsets use checked arithmetic.

use crate::state::model::Status;
use crate::state::search_index::SearchDoc;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '"' | '\'' => {
                let q = c;
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                v.push(*n);
                            }
                            i += 2;
                        }
                        Some(ch) if *ch == q => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            '!' | '>' | '<' | '=' | '~' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    "!=" => "!=",
                    "!~" => "!~",
                    ">=" => ">=",
                    "<=" => "<=",
                    _ => match c {
                        '>' => ">",
                        '<' => "<",
                        '=' => "=",
                        '~' => "~",
                        _ => return Err(format!("unexpected `{c}`")),
                    },
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
            _ => {
                let mut w = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch.is_whitespace() || "()\",'!<>=~".contains(ch) {
                        break;
                    }
                    w.push(ch);
                    i += 1;
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Func(String, Vec<String>),
}

/// How deep parentheses and `not` may nest.
pub const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Two or more conditions that must all hold.
    And(Vec<Expr>),
    /// Two or more conditions of which one must hold.
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Clause {
        field: String,
        op: String,
        values: Vec<Value>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub expr: Expr,
    /// (field, descending)
    pub order: Vec<(String, bool)>,
}

const FIELDS: &[&str] = &[
    "type",
    "space",
    "space.key",
    "title",
    "text",
    "label",
    "creator",
    "contributor",
    "created",
    "lastmodified",
    "id",
    "parent",
    "ancestor",
    "content",
    "container",
    "sitesearch",
    "user",
    "user.fullname",
    "user.accountid",
];

/// The `type` values Confluence accepts (an unknown one is a 400 listing them). The sandbox
/// indexes pages, blog posts, comments, attachments and spaces; the others match nothing.
const TYPES: &[&str] = &[
    "space",
    "user",
    "page",
    "blogpost",
    "comment",
    "attachment",
    "whiteboard",
    "database",
    "embed",
    "folder",
];
const ORDER_FIELDS: &[&str] = &["created", "lastmodified", "title", "id"];

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Open parentheses and `not`s around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.not()?];
        while self.keyword("and") {
            self.pos += 1;
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }
    /// Enters one nesting level (a parenthesis or a `not`), refusing to go deeper than allowed.
    fn nest(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!(
                "parentheses and `not` nest more than {MAX_NESTING} deep"
            ));
        }
        Ok(())
    }
    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.nest()?;
            let e = self.or()?;
            self.depth -= 1;
            return match self.next() {
                Some(Tok::RParen) => Ok(e),
                _ => Err("missing `)`".into()),
            };
        }
        let field = match self.next() {
            Some(Tok::Word(w)) => w.to_ascii_lowercase(),
            other => {
                return Err(format!(
                    "expected a field name, found {}",
                    describe(other.as_ref())
                ))
            }
        };
        if !FIELDS.contains(&field.as_str()) {
            return Err(format!(
                "field `{field}` is not supported by the sandbox (supported: {})",
                FIELDS.join(", ")
            ));
        }
        let op = match self.next() {
            Some(Tok::Op(o)) => o.to_string(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => "in".into(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => match self.next() {
                Some(Tok::Word(w2)) if w2.eq_ignore_ascii_case("in") => "not in".into(),
                _ => return Err("expected `in` after `not`".into()),
            },
            other => {
                return Err(format!(
                    "expected an operator after `{field}`, found {}",
                    describe(other.as_ref())
                ))
            }
        };
        let values = if op == "in" || op == "not in" {
            if self.next() != Some(Tok::LParen) {
                return Err(format!("expected `(` after `{op}`"));
            }
            let mut vals = vec![self.value()?];
            loop {
                match self.next() {
                    Some(Tok::Comma) => vals.push(self.value()?),
                    Some(Tok::RParen) => break,
                    _ => return Err("expected `,` or `)` in a list".into()),
                }
            }
            vals
        } else {
            vec![self.value()?]
        };
        Ok(Expr::Clause { field, op, values })
    }
    fn value(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::Text(s)),
            Some(Tok::Word(w)) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    loop {
                        match self.next() {
                            Some(Tok::RParen) => break,
                            Some(Tok::Comma) => {}
                            Some(Tok::Str(s)) | Some(Tok::Word(s)) => args.push(s),
                            _ => return Err(format!("bad arguments to `{w}()`")),
                        }
                    }
                    Ok(Value::Func(w.to_ascii_lowercase(), args))
                } else {
                    Ok(Value::Text(w))
                }
            }
            other => Err(format!(
                "expected a value, found {}",
                describe(other.as_ref())
            )),
        }
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end of the query".into(),
        Some(Tok::Word(w)) => format!("`{w}`"),
        Some(Tok::Str(s)) => format!("\"{s}\""),
        Some(Tok::Op(o)) => format!("`{o}`"),
        Some(Tok::LParen) => "`(`".into(),
        Some(Tok::RParen) => "`)`".into(),
        Some(Tok::Comma) => "`,`".into(),
    }
}

/// Parses a CQL query; errors say what was expected where.
pub fn parse(cql: &str) -> Result<Query, String> {
    let mut toks = tokenize(cql)?;
    // Split off `order by ...`.
    let mut order = Vec::new();
    let ob = toks.windows(2).position(|w| {
        matches!((&w[0], &w[1]), (Tok::Word(a), Tok::Word(b)) if a.eq_ignore_ascii_case("order") && b.eq_ignore_ascii_case("by"))
    });
    if let Some(pos) = ob {
        let tail: Vec<Tok> = toks.drain(pos..).skip(2).collect();
        for part in tail.split(|t| *t == Tok::Comma) {
            match part {
                [Tok::Word(f)] => order.push((f.to_ascii_lowercase(), false)),
                [Tok::Word(f), Tok::Word(d)]
                    if d.eq_ignore_ascii_case("asc") || d.eq_ignore_ascii_case("desc") =>
                {
                    order.push((f.to_ascii_lowercase(), d.eq_ignore_ascii_case("desc")))
                }
                _ => return Err("`order by` expects fields with optional asc or desc".into()),
            }
        }
        if let Some((f, _)) = order
            .iter()
            .find(|(f, _)| !ORDER_FIELDS.contains(&f.as_str()))
        {
            return Err(format!(
                "cannot order by `{f}` (use {})",
                ORDER_FIELDS.join(", ")
            ));
        }
    }
    if toks.is_empty() {
        return Err("the query has no conditions".into());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let expr = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!(
            "unexpected {} after a complete condition (missing `and`/`or`?)",
            describe(p.peek())
        ));
    }
    Ok(Query { expr, order })
}

/// What evaluation needs besides the document.
pub struct EvalCtx {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub current_user: String,
}

/// A half-open time interval [start, end).
type Span = (DateTime<Utc>, DateTime<Utc>);

fn local_to_utc(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

fn parse_date(s: &str, tz: Tz) -> Option<Span> {
    let s = s.trim();
    for f in ["%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            let start = local_to_utc(tz, n)?;
            return Some((start, start.checked_add_signed(Duration::minutes(1))?));
        }
    }
    for f in ["%Y/%m/%d", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            let start = local_to_utc(tz, d.and_hms_opt(0, 0, 0)?)?;
            return Some((start, start.checked_add_signed(Duration::days(1))?));
        }
    }
    None
}

/// Applies an offset like `-4d`, `+2h`, `-30m`, `-1w`, `-1M`, `-1y`.
fn offset(t: DateTime<Utc>, arg: Option<&String>) -> Result<DateTime<Utc>, String> {
    let Some(a) = arg.map(|a| a.trim()).filter(|a| !a.is_empty()) else {
        return Ok(t);
    };
    let (sign, rest) = match a.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, a.strip_prefix('+').unwrap_or(a)),
    };
    let split = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let n: i64 = rest[..split]
        .parse()
        .map_err(|_| format!("bad offset `{a}`"))?;
    let minutes_per_unit: i64 = match &rest[split..] {
        "m" => 1,
        "h" => 60,
        "d" | "" => 24 * 60,
        "w" => 7 * 24 * 60,
        "M" => 30 * 24 * 60,
        "y" => 365 * 24 * 60,
        u => {
            return Err(format!(
                "bad offset unit `{u}` in `{a}` (use m, h, d, w, M, y)"
            ))
        }
    };
    n.checked_mul(sign * minutes_per_unit)
        .and_then(Duration::try_minutes)
        .and_then(|d| t.checked_add_signed(d))
        .ok_or_else(|| format!("offset `{a}` leaves the range of dates"))
}

fn func_time(name: &str, args: &[String], ctx: &EvalCtx) -> Result<Span, String> {
    let local = ctx.now.with_timezone(&ctx.tz);
    let day_start = |d: NaiveDate| {
        local_to_utc(ctx.tz, d.and_hms_opt(0, 0, 0).unwrap_or_default()).unwrap_or(ctx.now)
    };
    let base = match name {
        "now" => ctx.now,
        "startofday" => day_start(local.date_naive()),
        "startofweek" => day_start(
            local.date_naive() - Duration::days(local.weekday().num_days_from_sunday() as i64),
        ),
        "startofmonth" => day_start(local.date_naive().with_day(1).unwrap_or(local.date_naive())),
        "startofyear" => day_start(
            local
                .date_naive()
                .with_ordinal(1)
                .unwrap_or(local.date_naive()),
        ),
        other => return Err(format!("function `{other}()` is not supported for dates")),
    };
    let t = offset(base, args.first())?;
    let t = t
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t);
    let end = t
        .checked_add_signed(Duration::minutes(1))
        .ok_or_else(|| format!("`{name}()` leaves the range of dates"))?;
    Ok((t, end))
}

fn resolve_time(v: &Value, ctx: &EvalCtx) -> Result<Span, String> {
    match v {
        Value::Text(s) => parse_date(s, ctx.tz)
            .ok_or_else(|| format!("`{s}` is not a date: use \"yyyy-MM-dd HH:mm\", \"yyyy/MM/dd HH:mm\" or \"yyyy-MM-dd\" (in the user's time zone)")),
        Value::Func(n, a) => func_time(n, a, ctx),
    }
}

fn resolve_text(v: &Value, ctx: &EvalCtx) -> Result<String, String> {
    match v {
        Value::Text(s) => Ok(s.clone()),
        Value::Func(n, _) if n == "currentuser" => Ok(ctx.current_user.clone()),
        Value::Func(n, _) => Err(format!("function `{n}()` is not supported here")),
    }
}

/// Validates values once (dates, functions) so that evaluation cannot fail half-way.
pub fn check(q: &Query, ctx: &EvalCtx) -> Result<(), String> {
    fn walk(e: &Expr, ctx: &EvalCtx) -> Result<(), String> {
        match e {
            Expr::And(terms) | Expr::Or(terms) => terms.iter().try_for_each(|t| walk(t, ctx)),
            Expr::Not(a) => walk(a, ctx),
            Expr::Clause { field, op, values } => {
                let date = field == "created" || field == "lastmodified";
                for v in values {
                    if date {
                        resolve_time(v, ctx)?;
                        continue;
                    }
                    let text = resolve_text(v, ctx)?;
                    if field == "type" && !TYPES.contains(&text.to_lowercase().as_str()) {
                        return Err(format!(
                            "the type `{text}` is not supported; accepted types are {}",
                            TYPES.join(", ")
                        ));
                    }
                    if field == "title" && text.trim().is_empty() {
                        return Err("title cannot be empty".into());
                    }
                }
                let allowed: &[&str] = match field.as_str() {
                    "created" | "lastmodified" => {
                        &["=", "!=", ">", ">=", "<", "<=", "in", "not in"]
                    }
                    "title" | "text" | "sitesearch" | "user.fullname" => {
                        &["=", "!=", "~", "!~", "in", "not in"]
                    }
                    _ => &["=", "!=", "in", "not in"],
                };
                if !allowed.contains(&op.as_str()) {
                    return Err(format!(
                        "operator `{op}` cannot be used with field `{field}` (use {})",
                        allowed.join(" ")
                    ));
                }
                Ok(())
            }
        }
    }
    walk(&q.expr, ctx)
}

fn contains_terms(hay: &str, needle: &str) -> bool {
    needle
        .to_lowercase()
        .split_whitespace()
        .map(|t| t.trim_matches('*'))
        .filter(|t| !t.is_empty())
        .all(|t| hay.contains(t))
}

fn clause(doc: &SearchDoc, field: &str, op: &str, values: &[Value], ctx: &EvalCtx) -> bool {
    let negate = matches!(op, "!=" | "!~" | "not in");
    let any = |f: &dyn Fn(&Value) -> bool| values.iter().any(f);
    let text = |v: &Value| resolve_text(v, ctx).unwrap_or_default();
    let hit = match field {
        "type" => any(&|v| doc.kind.type_name() == text(v).to_lowercase()),
        "space" | "space.key" => any(&|v| doc.space_key.eq_ignore_ascii_case(&text(v))),
        "label" => any(&|v| doc.labels.iter().any(|l| *l == text(v).to_lowercase())),
        "creator" => any(&|v| doc.creator == text(v)),
        "contributor" => any(&|v| doc.creator == text(v) || doc.contributor == text(v)),
        "id" | "content" => any(&|v| doc.id.to_string() == text(v)),
        "parent" => any(&|v| doc.parent.map(|p| p.to_string()) == Some(text(v))),
        "ancestor" => any(&|v| doc.ancestors.iter().any(|a| a.to_string() == text(v))),
        "title" if op == "~" || op == "!~" => any(&|v| contains_terms(&doc.title_lower, &text(v))),
        "title" => any(&|v| doc.title == text(v)),
        "container" => any(&|v| doc.container.map(|c| c.to_string()) == Some(text(v))),
        "text" | "sitesearch" => any(&|v| {
            contains_terms(&doc.title_lower, &text(v)) || contains_terms(&doc.text_lower, &text(v))
        }),
        "created" | "lastmodified" => {
            let t = if field == "created" {
                doc.created
            } else {
                doc.lastmodified
            };
            return values.iter().any(|v| {
                let Ok((start, end)) = resolve_time(v, ctx) else {
                    return false;
                };
                match op {
                    "=" | "in" => start <= t && t < end,
                    "!=" | "not in" => !(start <= t && t < end),
                    ">" => t >= end,
                    ">=" => t >= start,
                    "<" => t < start,
                    "<=" => t < end,
                    _ => false,
                }
            });
        }
        _ => false,
    };
    hit != negate
}

/// Evaluates the logic of `e`, asking `leaf(field, op, values)` for each clause.
fn eval_expr(e: &Expr, leaf: &dyn Fn(&str, &str, &[Value]) -> bool) -> bool {
    match e {
        Expr::And(terms) => terms.iter().all(|t| eval_expr(t, leaf)),
        Expr::Or(terms) => terms.iter().any(|t| eval_expr(t, leaf)),
        Expr::Not(a) => !eval_expr(a, leaf),
        Expr::Clause { field, op, values } => leaf(field, op, values),
    }
}

/// True when the document matches; like Confluence, only current content is found.
pub fn matches(q: &Query, doc: &SearchDoc, ctx: &EvalCtx) -> bool {
    doc.status == Status::Current && eval_expr(&q.expr, &|f, op, v| clause(doc, f, op, v, ctx))
}

/// What `/search/user` matches: `type = user`, `user` / `user.accountid` (account id) and
/// `user.fullname` (`~` finds words of the display name, `=` the whole name, both ignoring case).
pub fn matches_user(q: &Query, account_id: &str, display_name: &str, ctx: &EvalCtx) -> bool {
    let name_lower = display_name.to_lowercase();
    eval_expr(&q.expr, &|field, op, values| {
        let negate = matches!(op, "!=" | "!~" | "not in");
        let text = |v: &Value| resolve_text(v, ctx).unwrap_or_default();
        let hit = values.iter().any(|v| match field {
            "type" => text(v).eq_ignore_ascii_case("user"),
            "user" | "user.accountid" => text(v) == account_id,
            "user.fullname" if op == "~" || op == "!~" => contains_terms(&name_lower, &text(v)),
            "user.fullname" => text(v).to_lowercase() == name_lower,
            _ => false,
        });
        hit != negate
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::search_index::DocType;

    fn doc(title: &str, space: &str, modified: DateTime<Utc>) -> SearchDoc {
        SearchDoc {
            id: 10,
            kind: DocType::Page,
            status: Status::Current,
            space_key: space.into(),
            title: title.into(),
            title_lower: title.to_lowercase(),
            text_lower: "hello world".into(),
            labels: vec!["release".into()],
            creator: "u1".into(),
            contributor: "u1".into(),
            created: modified,
            lastmodified: modified,
            parent: Some(5),
            ancestors: vec![1, 5],
            container: None,
        }
    }

    fn ctx(now: DateTime<Utc>) -> EvalCtx {
        EvalCtx {
            now,
            tz: "Europe/Berlin".parse().unwrap(),
            current_user: "u1".into(),
        }
    }

    fn m(cql: &str, d: &SearchDoc, c: &EvalCtx) -> bool {
        let q = parse(cql).unwrap();
        check(&q, c).unwrap();
        matches(&q, d, c)
    }

    #[test]
    fn fields_operators_and_logic() {
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 20).unwrap();
        let d = doc("Release Notes 2026", "ENG", t);
        let c = ctx(t);
        assert!(m("type=page and space=\"ENG\"", &d, &c));
        assert!(m("type = page AND space in (OPS, ENG)", &d, &c));
        assert!(!m("space = OPS", &d, &c));
        assert!(m("title ~ \"release notes\"", &d, &c));
        assert!(!m("title ~ \"missing\"", &d, &c));
        assert!(m("title = \"Release Notes 2026\"", &d, &c));
        assert!(m("label = release and not label = draft", &d, &c));
        assert!(m(
            "(space = OPS or label = release) and creator = currentUser()",
            &d,
            &c
        ));
        assert!(m("ancestor = 1 and parent = 5", &d, &c));
        assert!(m("text ~ world", &d, &c));
        assert!(!m("type = blogpost", &d, &c));
    }

    #[test]
    fn dates_are_minute_granular_in_the_user_time_zone() {
        // 09:30:20 UTC is 10:30 in Berlin (UTC+1 in March before DST).
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 20).unwrap();
        let d = doc("x", "ENG", t);
        let c = ctx(t + Duration::minutes(10));
        assert!(m("lastmodified >= \"2026-03-01 10:30\"", &d, &c));
        assert!(
            !m("lastmodified > \"2026-03-01 10:30\"", &d, &c),
            "same minute is not after it"
        );
        assert!(!m("lastmodified >= \"2026-03-01 10:31\"", &d, &c));
        assert!(
            m("lastmodified >= \"2026/03/01 09:31\"", &d, &c),
            "09:31 Berlin is before 10:30 Berlin"
        );
        assert!(m("created = \"2026-03-01\"", &d, &c));
        assert!(m("lastmodified > now(\"-15m\")", &d, &c));
        assert!(!m("lastmodified > now(\"-5m\")", &d, &c));
        assert!(m("lastmodified >= startOfDay()", &d, &c));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(parse("type = ").unwrap_err().contains("expected a value"));
        assert!(parse("colour = red").unwrap_err().contains("not supported"));
        assert!(parse("type = page order by colour")
            .unwrap_err()
            .contains("cannot order by"));
        assert!(parse("type = page space = X")
            .unwrap_err()
            .contains("missing `and`"));
        let q = parse("lastmodified > \"yesterday\"").unwrap();
        assert!(check(&q, &ctx(Utc::now()))
            .unwrap_err()
            .contains("not a date"));
        let q = parse("label ~ x").unwrap();
        assert!(check(&q, &ctx(Utc::now())).is_err());
        let q = parse("type = page order by lastmodified desc, title").unwrap();
        assert_eq!(
            q.order,
            vec![("lastmodified".into(), true), ("title".into(), false)]
        );
    }

    #[test]
    fn deep_nesting_is_refused_and_long_flat_chains_are_not() {
        let deep = format!("{}type = page{}", "(".repeat(2000), ")".repeat(2000));
        assert!(parse(&deep).unwrap_err().contains("nest more than"));
        let nots = format!("{}type = page", "not ".repeat(2000));
        assert!(parse(&nots).unwrap_err().contains("nest more than"));
        let ok = format!(
            "{}type = page{}",
            "(".repeat(MAX_NESTING),
            ")".repeat(MAX_NESTING)
        );
        assert!(parse(&ok).is_ok());
        let chain = vec!["label = x"; 20_000].join(" or ");
        let q = parse(&chain).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 20).unwrap();
        check(&q, &ctx(t)).unwrap();
        assert!(!matches(&q, &doc("x", "ENG", t), &ctx(t)));
    }

    #[test]
    fn huge_date_offsets_are_errors() {
        let c = ctx(Utc::now());
        for cql in [
            "created > now(\"-300000y\")",
            "created > startOfMonth(\"+99999999999M\")",
            "created > now(\"+9223372036854775807m\")",
            "created > now(\"-99999999999999999999d\")",
        ] {
            let q = parse(cql).unwrap();
            let err = check(&q, &c).unwrap_err();
            assert!(
                err.contains("range of dates") || err.contains("bad offset"),
                "{cql}: {err}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn parsing_and_checking_never_panic(
            cql in "([()\"' ,!<>=~]|and|or|not|in|order by|created|title|now|startOfMonth|-?[0-9]{1,20}[mhdwMy]?|[a-z]{1,5}){0,40}"
        ) {
            if let Ok(q) = parse(&cql) {
                let t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 20).unwrap();
                if check(&q, &ctx(t)).is_ok() {
                    matches(&q, &doc("x", "ENG", t), &ctx(t));
                }
            }
        }
    }
}
