//! The keyed count of `versioned-counter`, as a later version that stores it as another
//! type: `count` holds `{"n": ...}` (type tag `json:counter/v2`) where the earlier
//! version stored a bare number (`json:u64`). It exports a migration from that tag, so a
//! running `versioned-counter` can be swapped for it with the counts carried over. For a
//! record with value `seq` it emits `{"key","seq","count","tag"}` as the earlier version
//! does (`tag` from the config).

use serde::{Deserialize, Serialize};
use serde_json::json;
use weir_sdk::{InitContext, Map, Migrate, Migration, Output, Record, Result, ValueState};

#[derive(Deserialize)]
struct Config {
    tag: String,
}

/// The count as this version stores it.
#[derive(Serialize, Deserialize, Default)]
struct Count {
    n: u64,
}

pub struct MigratingCounter {
    tag: String,
    count: ValueState<Count>,
}

impl Map for MigratingCounter {
    fn init(ctx: &InitContext) -> Result<Self> {
        let config: Config = ctx.config()?;
        Ok(MigratingCounter {
            tag: config.tag,
            count: ctx.state("count").type_tag("json:counter/v2").value()?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let key = String::from_utf8_lossy(record.key.unwrap_or_default()).into_owned();
        let seq: u64 = record
            .text()?
            .parse()
            .map_err(|e| weir_sdk::Error::msg(format!("not a sequence number: {e}")))?;
        let mut c = self.count.get()?.unwrap_or_default();
        c.n += 1;
        self.count.set(&c)?;
        out.emit_json(&json!({ "key": key, "seq": seq, "count": c.n, "tag": self.tag }))
    }
}

impl Migrate for MigratingCounter {
    fn migrations() -> Vec<Migration> {
        vec![Migration::json("count", "json:u64", |n: u64| {
            Ok(Some(Count { n }))
        })]
    }
}

weir_sdk::export_map!(MigratingCounter);
weir_sdk::export_migrations!(MigratingCounter);
