//! `set_logger`: Kafo's tracing events forwarded to the app's logger. Kafo logs no
//! record contents or names, and ids only redacted, as in the CLI.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

/// A log event's severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// What the app implements to receive Kafo's log events (on any thread).
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    fn log(&self, level: LogLevel, target: String, message: String);
}

static LOGGER: RwLock<Option<Arc<dyn Logger>>> = RwLock::new(None);

/// Forwards Kafo's log events at `info` and above (and `debug` for `kafo` targets)
/// to `logger`, replacing the previous one.
#[uniffi::export]
pub fn set_logger(logger: Arc<dyn Logger>) {
    *LOGGER
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(logger);
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let filter = tracing_subscriber::filter::Targets::new()
            .with_default(Level::INFO)
            .with_target("kafo", Level::DEBUG);
        let subscriber = tracing_subscriber::registry().with(ForwardLayer.with_filter(filter));
        // Another global subscriber (installed by the app's own Rust code) wins.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

struct ForwardLayer;

impl<S: Subscriber> Layer<S> for ForwardLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let Some(logger) = LOGGER
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        let metadata = event.metadata();
        let level = match *metadata.level() {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => return,
        };
        let mut message = MessageVisitor::default();
        event.record(&mut message);
        let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            logger.log(level, metadata.target().to_owned(), message.text);
        }));
        // A failing app logger must not take Kafo down; there is nowhere to report it.
        drop(call);
    }
}

/// The event's message followed by its fields as `name=value`.
#[derive(Default)]
struct MessageVisitor {
    text: String,
}

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            let _ = write!(self.text, "{value:?}{fields}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            let _ = write!(self.text, "{value}{fields}");
        } else {
            let _ = write!(self.text, " {}={value}", field.name());
        }
    }
}
