//! Roles: what an enrolled device may do within its scopes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A device's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A community health worker: reads and writes its own scopes.
    Chw,
    /// Reads and writes its scopes, enrols chw, relay and supervisor devices and revokes devices within them.
    Supervisor,
    /// Reads and carries documents only; never authors changes.
    Relay,
    /// Everything within its scopes (the program creator's admin has every scope).
    Admin,
}

/// Why a string is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected chw, supervisor, relay or admin")]
pub struct UnknownRole(pub String);

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Chw, Role::Supervisor, Role::Relay, Role::Admin];

    /// Whether the role may author changes.
    pub fn can_write(self) -> bool {
        matches!(self, Role::Chw | Role::Supervisor | Role::Admin)
    }

    /// Whether a device with this role may enrol a device with role `other`.
    pub fn can_enrol(self, other: Role) -> bool {
        match self {
            Role::Admin => true,
            Role::Supervisor => matches!(other, Role::Chw | Role::Relay | Role::Supervisor),
            Role::Chw | Role::Relay => false,
        }
    }

    /// Whether a device with this role may revoke devices (within its scopes).
    pub fn can_revoke(self) -> bool {
        matches!(self, Role::Supervisor | Role::Admin)
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Chw => "chw",
            Role::Supervisor => "supervisor",
            Role::Relay => "relay",
            Role::Admin => "admin",
        }
    }

    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Role::Chw => 1,
            Role::Supervisor => 2,
            Role::Relay => 3,
            Role::Admin => 4,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.to_byte() == byte)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, UnknownRole> {
        let lower = text.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == lower)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
