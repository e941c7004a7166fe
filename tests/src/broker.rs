//! A real Kafka-compatible broker for tests: noida-db (`pip install noida-db==0.2.3`,
//! which `.ci/setup` installs), started on a free loopback port with a data folder of its
//! own and killed by its pid when dropped. Plus the few client calls tests make: create
//! topics, produce records, read everything back (read-committed or not).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const T: Duration = Duration::from_secs(10);

/// A running broker.
pub struct Broker {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Its data folder (and log).
    pub dir: tempfile::TempDir,
}

/// A record as tests write and read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    /// Partition (when writing: `None` lets the producer choose).
    pub partition: Option<i32>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Vec<u8>,
    /// Timestamp (epoch ms).
    pub timestamp: Option<i64>,
    /// Headers (a null value reads as empty).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Offset (when read).
    pub offset: i64,
}

impl Rec {
    /// A record with a value only.
    pub fn value(v: impl Into<Vec<u8>>) -> Self {
        Self {
            value: v.into(),
            ..Self::default()
        }
    }

    /// The value as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// The noida-db binary: `$WEIR_NOIDA_BIN`, or the one the Python package installed (in
/// the virtual environment `.ci/setup` makes, `~/.cache/weir/tools`, or else for `python3`).
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WEIR_NOIDA_BIN") {
        return p.into();
    }
    let tools = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/weir/tools/bin/python"))
        .filter(|p| p.is_file());
    let python = tools.unwrap_or_else(|| PathBuf::from("python3"));
    let out = Command::new(&python)
        .args([
            "-c",
            "import noida_db, os; print(os.path.dirname(noida_db.__file__))",
        ])
        .output()
        .expect("running python3 to find noida-db");
    assert!(
        out.status.success(),
        "the Kafka tests need the noida-db broker: run .ci/setup (it installs noida-db==0.2.3 into ~/.cache/weir/tools)\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("noida-db")
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Broker {
    /// Starts a broker and waits until it accepts connections.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a data folder");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("broker.log")).expect("the log");
        let child = Command::new(binary())
            .args(["start", "--only", "kafka", "--host", "127.0.0.1"])
            .arg("--kafka-port")
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log"))
            .stderr(log)
            .spawn()
            .expect("starting noida-db");
        let addr = format!("127.0.0.1:{port}");
        let b = Self { child, addr, dir };
        let started = Instant::now();
        while TcpStream::connect(&b.addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the broker did not start: {}",
                b.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        b
    }

    /// The broker's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }

    /// Creates a topic with `partitions` partitions.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.addr)
            .create()
            .expect("an admin client");
        let opts = AdminOptions::new().operation_timeout(Some(T));
        let t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let res = block_on(admin.create_topics([&t], &opts)).expect("creating a topic");
        for r in res {
            r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e:?}"));
        }
    }

    /// Writes records (not in a transaction) and waits until they are stored.
    pub fn produce(&self, topic: &str, records: &[Rec]) {
        produce_to(&self.addr, topic, records);
    }

    /// Every record of `topic` (each partition in order, partitions in turn), read
    /// committed or not.
    pub fn read(&self, topic: &str, committed: bool) -> Vec<Rec> {
        read_from(&self.addr, topic, committed)
    }

    /// The partitions of `topic` where a transaction is open: their last stable offset
    /// (what read-committed readers reach) is below their high watermark.
    pub fn open_transactions(&self, topic: &str) -> Vec<i32> {
        let consumer = |isolation: &str| -> BaseConsumer {
            ClientConfig::new()
                .set("bootstrap.servers", &self.addr)
                .set("group.id", "weir-tests-watermarks")
                .set("isolation.level", isolation)
                .create()
                .expect("a consumer")
        };
        let committed = consumer("read_committed");
        let all = consumer("read_uncommitted");
        let md = all
            .fetch_metadata(Some(topic), T)
            .expect("the topic's metadata");
        let parts = md.topics()[0].partitions().len() as i32;
        (0..parts)
            .filter(|&p| {
                let lso = committed
                    .fetch_watermarks(topic, p, T)
                    .expect("watermarks")
                    .1;
                let hw = all.fetch_watermarks(topic, p, T).expect("watermarks").1;
                lso < hw
            })
            .collect()
    }

    /// The values of `topic`, read committed, sorted.
    pub fn values(&self, topic: &str) -> Vec<String> {
        let mut v: Vec<String> = self.read(topic, true).iter().map(Rec::text).collect();
        v.sort();
        v
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // By its pid: never by name, other brokers may be running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes records to the broker at `addr` (not in a transaction) and waits until they
/// are stored.
pub fn produce_to(addr: &str, topic: &str, records: &[Rec]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("linger.ms", "5")
        .create()
        .expect("a producer");
    for r in records {
        let mut rec = BaseRecord::to(topic).payload(&r.value);
        if let Some(k) = &r.key {
            rec = rec.key(k);
        }
        if let Some(p) = r.partition {
            rec = rec.partition(p);
        }
        if let Some(t) = r.timestamp {
            rec = rec.timestamp(t);
        }
        if !r.headers.is_empty() {
            let mut hs = OwnedHeaders::new();
            for (k, v) in &r.headers {
                hs = hs.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            rec = rec.headers(hs);
        }
        let mut rec = rec;
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    p.poll(Duration::from_millis(10));
                    rec = back;
                }
                Err((e, _)) => panic!("producing to {topic}: {e}"),
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(T).expect("flushing");
}

/// Every record of `topic` at the brokers `addr` (each partition in order, partitions in
/// turn), read committed or not.
pub fn read_from(addr: &str, topic: &str, committed: bool) -> Vec<Rec> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", "weir-tests-reader")
        .set(
            "isolation.level",
            if committed {
                "read_committed"
            } else {
                "read_uncommitted"
            },
        )
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let md = c
        .fetch_metadata(Some(topic), T)
        .expect("the topic's metadata");
    let parts = md.topics()[0].partitions().len() as i32;
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("a partition");
    }
    c.assign(&tpl).expect("assigning");
    let mut out = Vec::new();
    let mut at_end = std::collections::BTreeSet::new();
    let started = Instant::now();
    while at_end.len() < parts as usize {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "reading {topic} took over a minute (a transaction left open?)"
        );
        match c.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                out.push(Rec {
                    partition: Some(m.partition()),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().unwrap_or_default().to_vec(),
                    timestamp: m.timestamp().to_millis(),
                    headers: m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    offset: m.offset(),
                });
            }
        }
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    out
}
