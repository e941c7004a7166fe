//! A map function that misbehaves on request, to test the sandbox and error policies.
//! Each record's value picks what happens:
//! - `loop`: loops forever (the call must hit its deadline);
//! - `hog`: allocates without bound (the instance must hit its memory cap);
//! - `trap`: panics (the call traps);
//! - `reject`: returns an error for the record;
//! - `print`: writes to stdout and stderr, then echoes;
//! - `spin:N`: busy for N milliseconds of wall-clock time, then echoes;
//! - `log:N`: logs N lines of 64 KiB each, then echoes;
//! - anything else: echoed unchanged.

use weir_sdk::{InitContext, Map, Output, Record, Result, bail};

pub struct Misbehave;

impl Map for Misbehave {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(Misbehave)
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        match record.value {
            b"loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            b"hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            b"trap" => panic!("the record asked for a trap"),
            b"reject" => bail!("the record asked to be rejected"),
            b"print" => {
                println!("hello from stdout");
                eprintln!("hello from stderr");
                out.emit(record.value);
            }
            v if v.starts_with(b"spin:") => {
                let ms: u64 = record.text()?["spin:".len()..]
                    .parse()
                    .map_err(|e| weir_sdk::Error::msg(format!("{e}")))?;
                let start = std::time::Instant::now();
                while start.elapsed() < std::time::Duration::from_millis(ms) {
                    std::hint::black_box(());
                }
                out.emit(record.value);
            }
            v if v.starts_with(b"log:") => {
                let n: usize = record.text()?["log:".len()..]
                    .parse()
                    .map_err(|e| weir_sdk::Error::msg(format!("{e}")))?;
                let line = "x".repeat(64 * 1024);
                for _ in 0..n {
                    weir_sdk::log::log(weir_sdk::log::Level::Info, &line);
                }
                out.emit(record.value);
            }
            _ => out.emit(record.value),
        }
        Ok(())
    }
}

weir_sdk::export_map!(Misbehave);
