//! Identifiers of households, people, visits, areas and CHWs.
//!
//! Every identifier in format v1 uses the same alphabet: 1 to 64 characters of
//! `A-Z a-z 0-9 . _ -`. Each kind of identifier is its own type, so a person id
//! cannot be passed where a household id is expected, and a value of any of
//! these types has been checked (parse, don't validate).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest identifier format v1 allows, in bytes (all allowed characters are ASCII).
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier is the empty string.
    #[error("identifier is empty")]
    Empty,
    /// The identifier is longer than [`MAX_ID_LEN`].
    #[error("identifier is {len} characters long, at most {MAX_ID_LEN} are allowed")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The identifier contains a character outside `A-Z a-z 0-9 . _ -`.
    #[error("identifier has {found:?} at position {position}; only A-Z a-z 0-9 . _ - are allowed")]
    BadCharacter {
        /// The offending character.
        found: char,
        /// Its position, counting characters from 0.
        position: usize,
    },
}

/// Checks a string against the identifier alphabet and length of format v1.
pub fn check_id(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    for (position, found) in value.chars().enumerate() {
        if !(found.is_ascii_alphanumeric() || matches!(found, '.' | '_' | '-')) {
            return Err(IdError::BadCharacter { found, position });
        }
    }
    let len = value.chars().count();
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong { len });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier, checking its alphabet and length.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_id(&value)?;
                Ok(Self(value))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::parse(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// Stable identifier of a household, unique in the program; also the id of its document.
    HouseholdId
);
id_type!(
    /// Identifier of a person, unique in the program.
    PersonId
);
id_type!(
    /// Identifier of a visit, unique in the program.
    VisitId
);
id_type!(
    /// A health area (aire de santé / quartier), e.g. `sikoro`.
    AreaId
);
id_type!(
    /// A community health worker, e.g. `chw-07`.
    ChwId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_format_alphabet() {
        assert!(HouseholdId::parse("sikoro-chw-01-h0001.v_2").is_ok());
        assert!(HouseholdId::parse("a".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_what_the_format_forbids() {
        assert_eq!(HouseholdId::parse(""), Err(IdError::Empty));
        assert_eq!(
            HouseholdId::parse("a".repeat(65)),
            Err(IdError::TooLong { len: 65 })
        );
        assert_eq!(
            PersonId::parse("ab/c"),
            Err(IdError::BadCharacter {
                found: '/',
                position: 2
            })
        );
        assert!(AreaId::parse("sikoro é").is_err());
    }
}
