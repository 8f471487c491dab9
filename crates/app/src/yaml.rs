//! The one door to YAML, so replacing the (archived) `serde_yaml` crate with
//! a maintained fork is a change in one place.

pub use serde_yaml::{Error, Mapping, Value};

pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_yaml::from_str(text)
}

pub fn to_string<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_yaml::to_string(value)
}
