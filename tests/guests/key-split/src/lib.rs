//! A map function that keys text records: the line `key:value` becomes a record with
//! that key and value. A line without `:` is an error for that record.

use weir_sdk::{InitContext, Map, Output, Record, Result, bail};

pub struct KeySplit;

impl Map for KeySplit {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(KeySplit)
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let text = record.text()?;
        let Some((key, value)) = text.split_once(':') else {
            bail!("`{text}` is not of the form key:value");
        };
        out.emit_keyed(key, value);
        Ok(())
    }
}

weir_sdk::export_map!(KeySplit);
