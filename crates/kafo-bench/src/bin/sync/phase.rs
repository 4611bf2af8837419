//! One measured sync, run in a child process of the bench so that its peak memory is
//! its own: open both devices' stores, reset the peak-RSS mark, sync with Kafo or with
//! the naive reference, print what it cost on one line.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use kafo::Node;
use kafo::model::Scope;
use kafo_bench::{peak_rss, reset_peak_rss};

use crate::{lockstep, naive};

/// Which protocol a phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Kafo's sessions over the real stores.
    Kafo,
    /// Automerge's per-document sync, every document its own exchange.
    Naive,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Kafo => "kafo",
            Self::Naive => "naive",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "kafo" => Ok(Self::Kafo),
            "naive" => Ok(Self::Naive),
            other => bail!("unknown protocol {other:?}"),
        }
    }
}

/// What one sync between device A and device B cost.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Bytes A sent to B.
    pub bytes_ab: u64,
    /// Bytes B sent to A.
    pub bytes_ba: u64,
    /// Messages (Kafo frames, naive sync messages) A sent.
    pub messages_ab: u64,
    /// Messages B sent.
    pub messages_ba: u64,
    /// One-way trips until both were done: the latency the sync costs is half this many
    /// round trips.
    pub one_way: u32,
    /// Kafo only: the larger `SessionReport::round_trips` of the two sides.
    pub report_round_trips: Option<u32>,
    /// Documents that changed on either side.
    pub docs_moved: u64,
    /// Wall time of the sync, both devices in one thread, storage included.
    pub wall: Duration,
    /// Peak RSS of the process during the sync (both devices, stores open).
    pub peak_rss: u64,
    /// Where the time went, for the reader (not parsed back).
    pub details: Vec<String>,
}

impl Measured {
    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.bytes_ab + self.bytes_ba
    }

    /// Latency cost in round trips (two one-way trips each).
    pub fn round_trips(&self) -> f64 {
        f64::from(self.one_way) / 2.0
    }

    fn to_line(&self) -> String {
        format!(
            "bytes_ab={} bytes_ba={} messages_ab={} messages_ba={} one_way={} report_rt={} docs={} wall_ns={} peak_rss={}",
            self.bytes_ab,
            self.bytes_ba,
            self.messages_ab,
            self.messages_ba,
            self.one_way,
            self.report_round_trips.map_or(-1, i64::from),
            self.docs_moved,
            self.wall.as_nanos(),
            self.peak_rss
        )
    }

    pub fn from_line(line: &str) -> anyhow::Result<Self> {
        let fields: BTreeMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|field| field.split_once('='))
            .collect();
        let number = |key: &str| -> anyhow::Result<i128> {
            fields
                .get(key)
                .with_context(|| format!("no {key} in {line:?}"))?
                .parse::<i128>()
                .with_context(|| format!("{key} in {line:?}"))
        };
        let unsigned = |key: &str| -> anyhow::Result<u64> { Ok(u64::try_from(number(key)?)?) };
        let report_rt = number("report_rt")?;
        Ok(Self {
            bytes_ab: unsigned("bytes_ab")?,
            bytes_ba: unsigned("bytes_ba")?,
            messages_ab: unsigned("messages_ab")?,
            messages_ba: unsigned("messages_ba")?,
            one_way: u32::try_from(number("one_way")?)?,
            report_round_trips: u32::try_from(report_rt).ok(),
            docs_moved: unsigned("docs")?,
            wall: Duration::from_nanos(unsigned("wall_ns")?),
            peak_rss: unsigned("peak_rss")?,
            details: Vec::new(),
        })
    }
}

/// Joins scopes for the command line.
pub fn scopes_arg(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_scopes(text: &str) -> anyhow::Result<Vec<Scope>> {
    text.split(',')
        .map(|scope| scope.parse().with_context(|| format!("scope {scope:?}")))
        .collect()
}

/// The child: `--phase <kafo|naive> <dir A> <dir B> <scopes A> <scopes B> <share>`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let [protocol, dir_a, dir_b, scopes_a, scopes_b, share] = args else {
        bail!("usage: --phase <kafo|naive> <dir A> <dir B> <scopes A> <scopes B> <share>");
    };
    let protocol = Protocol::parse(protocol)?;
    let a = Node::open(Path::new(dir_a)).context("opening device A")?;
    let b = Node::open(Path::new(dir_b)).context("opening device B")?;
    let (scopes_a, scopes_b, share) = (
        parse_scopes(scopes_a)?,
        parse_scopes(scopes_b)?,
        parse_scopes(share)?,
    );
    reset_peak_rss()?;
    let mut measured = match protocol {
        Protocol::Kafo => lockstep::sync(a.store(), b.store(), &scopes_a, &scopes_b)?,
        Protocol::Naive => naive::sync(a.store(), b.store(), &share)?,
    };
    measured.peak_rss = peak_rss()?;
    for detail in &measured.details {
        println!("# {detail}");
    }
    println!("{}", measured.to_line());
    Ok(())
}
