//! A keyed count that says which version made each output: for a record with value
//! `seq`, emits `{"key","seq","count","tag"}` where `count` is the key's count so far (a
//! value state) and `tag` is the config's `tag`. Swapping in the same component with
//! another tag shows which version processed each record, and that the count carries
//! over. Config `fail_init = true` makes `init` fail (a swap that must be refused);
//! `count_as_map = true` declares `count` as a map state and `count_type = "..."` gives it
//! another type tag (both conflict with the state a running version declared);
//! `fail_every = N` makes every record whose `seq` is a multiple of N an error (a version
//! that fails on a share of its records).

use serde::Deserialize;
use serde_json::json;
use weir_sdk::{InitContext, Map, MapState, Output, Record, Result, ValueState, bail};

#[derive(Deserialize)]
struct Config {
    tag: String,
    #[serde(default)]
    fail_init: bool,
    #[serde(default)]
    count_as_map: bool,
    #[serde(default)]
    count_type: Option<String>,
    #[serde(default)]
    fail_every: Option<u64>,
}

pub struct VersionedCounter {
    tag: String,
    fail_every: Option<u64>,
    count: ValueState<u64>,
}

impl Map for VersionedCounter {
    fn init(ctx: &InitContext) -> Result<Self> {
        let config: Config = ctx.config()?;
        if config.fail_init {
            bail!("init refuses to start (fail_init)");
        }
        let mut count = ctx.state("count");
        if let Some(t) = config.count_type {
            count = count.type_tag(t);
        }
        if config.count_as_map {
            let _: MapState<String, u64> = count.map()?;
            bail!("declared `count` as a map state");
        }
        Ok(VersionedCounter {
            tag: config.tag,
            fail_every: config.fail_every,
            count: count.value()?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let key = String::from_utf8_lossy(record.key.unwrap_or_default()).into_owned();
        let seq: u64 = record
            .text()?
            .parse()
            .map_err(|e| weir_sdk::Error::msg(format!("not a sequence number: {e}")))?;
        if self
            .fail_every
            .is_some_and(|every| seq.is_multiple_of(every))
        {
            bail!("record {seq} fails (fail_every)");
        }
        let n = self.count.update(|n| n.unwrap_or(0) + 1)?;
        out.emit_json(&json!({ "key": key, "seq": seq, "count": n, "tag": self.tag }))
    }
}

weir_sdk::export_map!(VersionedCounter);
