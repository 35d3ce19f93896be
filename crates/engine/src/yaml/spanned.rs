//! Wrappers that let typed workflow structs keep positions and raw subtrees.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

use super::de::{recovering, RAW, TAKEN};
use super::node::Node;
use crate::diagnostic::Span;

pub(super) const SPANNED_NAME: &str = "$weft::Spanned";
pub(super) const RAW_NAME: &str = "$weft::RawNode";
pub(super) const RECOVER_NAME: &str = "$weft::Recover";
pub(super) const SPAN_FIELD: &str = "$span";
pub(super) const VALUE_FIELD: &str = "$value";

/// A value and where it was written. Only the workflow YAML deserializer fills the position.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value with a position")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (_, [line, col, len]): (String, [u32; 3]) = map
                    .next_entry()?
                    .ok_or_else(|| de::Error::custom("Spanned needs the weft YAML deserializer"))?;
                let (_, value): (String, T) = map
                    .next_entry()?
                    .ok_or_else(|| de::Error::custom("Spanned needs the weft YAML deserializer"))?;
                Ok(Spanned {
                    value,
                    span: Span::new(line, col, len),
                })
            }
        }
        deserializer.deserialize_struct(
            SPANNED_NAME,
            &[SPAN_FIELD, VALUE_FIELD],
            SpannedVisitor(PhantomData),
        )
    }
}

/// A YAML subtree kept as written (with positions), e.g. a step's `with:` values, whose strings
/// are compiled into templates later.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNode(pub Node);

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
                RAW.with(|r| r.borrow_mut().take())
                    .map(RawNode)
                    .ok_or_else(|| E::custom("RawNode needs the weft YAML deserializer"))
            }
        }
        deserializer.deserialize_struct(RAW_NAME, &[], RawVisitor)
    }
}

impl JsonSchema for RawNode {
    fn schema_name() -> Cow<'static, str> {
        "AnyValue".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!(true)
    }
}

/// A list read into room for exactly its items. serde's `Vec` starts from a guess capped at
/// 1 MiB and doubles, so a workflow's 10,000 steps held room for 15,884 (264 bytes each) until
/// compiled; the tree being already in memory and bounded, its length is trusted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactList<T>(pub Vec<T>);

impl<T> std::ops::Deref for ExactList<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ExactList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = ExactList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
                let mut list = Vec::with_capacity(items.size_hint().unwrap_or(0));
                while let Some(item) = items.next_element()? {
                    list.push(item);
                }
                Ok(ExactList(list))
            }
        }
        deserializer.deserialize_seq(ListVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for ExactList<T> {
    fn schema_name() -> Cow<'static, str> {
        Vec::<T>::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        Vec::<T>::schema_id()
    }
    fn inline_schema() -> bool {
        Vec::<T>::inline_schema()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        Vec::<T>::json_schema(generator)
    }
}

/// A value that failed to deserialize is reported (every problem in it, not only the first)
/// and left out, so one bad step does not hide the problems of the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Recover<T>(pub Option<T>);

impl<T> Default for Recover<T> {
    fn default() -> Self {
        Recover(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Recover<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RecoverVisitor<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for RecoverVisitor<T> {
            type Value = Recover<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Recover<T>, E> {
                let node = RAW
                    .with(|r| r.borrow_mut().take())
                    .ok_or_else(|| E::custom("Recover needs the weft YAML deserializer"))?;
                if node.span == TAKEN {
                    // Read again after its parent was pruned: reported the first time.
                    return Ok(Recover(None));
                }
                Ok(Recover(recovering(node)))
            }
        }
        deserializer.deserialize_struct(RECOVER_NAME, &[], RecoverVisitor(PhantomData))
    }
}

/// `Spanned<T>` and `Recover<T>` are written exactly as `T` is, so they describe themselves as `T`.
macro_rules! schema_as_inner {
    ($($wrapper:ident),*) => {$(
        impl<T: JsonSchema> JsonSchema for $wrapper<T> {
            fn inline_schema() -> bool {
                T::inline_schema()
            }
            fn schema_name() -> Cow<'static, str> {
                T::schema_name()
            }
            fn schema_id() -> Cow<'static, str> {
                T::schema_id()
            }
            fn json_schema(generator: &mut SchemaGenerator) -> Schema {
                T::json_schema(generator)
            }
        }
    )*};
}

schema_as_inner!(Spanned, Recover);
