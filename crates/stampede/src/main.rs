//! The `stampede` binary: parses the command line and calls the libraries (STYLE §12).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stampede_server::{Config, ConfigArgs};

mod channel_books;
mod reconcile;
mod statement_csv;

/// mimalloc instead of the system allocator (default feature `mimalloc`): every subcommand uses it,
/// so `serve`, `baseline` and `bench` stay comparable. Measured in BENCHMARKS.md.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stampede: a flash-sale and red-packet engine.
#[derive(Parser, Debug)]
#[command(name = "stampede", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (embedded journal in --data-dir; every setting below is also a TOML
    /// key for --config and a STAMPEDE_* environment variable).
    Serve(ConfigArgs),
    /// Print a user token signed with the server's token secret (read the same way `serve`
    /// reads it: flag, environment, config file, or <data-dir>/token_secret).
    Token {
        /// The user id (1-64 chars of A-Z a-z 0-9 _ -).
        #[arg(long)]
        user: String,
        /// Seconds until the token expires (at most the server's max_token_ttl_secs, default
        /// 30 days: a longer-lived token would be refused).
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Mint a shadow token (`s1.`): its grabs rehearse, decided against the campaign's
        /// shadow copy; it touches no real stock, order, payment or winner.
        #[arg(long)]
        shadow: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Replay a realistic stampede against a server and audit the invariants afterwards.
    Bench(Box<stampede_bench::BenchArgs>),
    /// Check the journal in --data-dir (read only) against itself and channel statements;
    /// exit 0 when clean, 1 on discrepancies, 2 on usage or I/O errors.
    Reconcile(reconcile::ReconcileArgs),
    /// A minimal hyper server answering a fixed body: the machine's HTTP ceiling.
    #[command(hide = true)]
    Baseline {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        /// Tokio worker threads (0: one per core), as for `serve`.
        #[arg(long, default_value_t = 0)]
        worker_threads: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Token {
            user,
            ttl,
            shadow,
            config,
        } => token(&user, ttl, shadow, config),
        Command::Bench(args) => bench(*args),
        Command::Reconcile(args) => reconcile::run(args),
        Command::Baseline {
            listen,
            worker_threads,
        } => baseline(listen, worker_threads),
    }
}

/// Text logs to stderr through the non-blocking writer; keep the guard until exit.
fn init_logging(filter: &str) -> stampede_server::logging::Logging {
    stampede_server::logging::init(filter, stampede_server::logging::LogFormat::Text)
}

fn runtime(worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if worker_threads > 0 {
        builder.worker_threads(worker_threads);
    }
    builder.build()
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("stampede: {message}");
    ExitCode::FAILURE
}

fn serve(args: ConfigArgs) -> ExitCode {
    let config = match Config::load(args) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    let _logging = stampede_server::logging::init(&config.log, config.log_format);
    let runtime = match runtime(config.worker_threads) {
        Ok(runtime) => runtime,
        Err(e) => return fail(e),
    };
    match runtime.block_on(stampede_server::serve(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("{e:#}")),
    }
}

fn token(user: &str, ttl: u64, shadow: bool, args: ConfigArgs) -> ExitCode {
    if let Err(e) = stampede_core::UserId::validate(user) {
        return fail(format!("--user: {e}"));
    }
    let config = match Config::load(args) {
        Ok(config) => config,
        Err(e) => return fail(e),
    };
    if ttl == 0 || ttl > config.max_token_ttl_secs {
        return fail(format!(
            "--ttl: must be between 1 and max_token_ttl_secs ({}) seconds, got {ttl}; \
             the server refuses tokens that expire further ahead",
            config.max_token_ttl_secs
        ));
    }
    let (secret, _) = match stampede_server::load_secrets(&config) {
        Ok(secrets) => secrets,
        Err(e) => return fail(format!("{e:#}")),
    };
    let expires = stampede_engine::Clock::now(&stampede_engine::SystemClock::new()).0 / 1000 + ttl;
    let mint = if shadow {
        stampede_api::auth::mint_shadow_token
    } else {
        stampede_api::mint_token
    };
    println!("{}", mint(secret.as_bytes(), user, expires));
    ExitCode::SUCCESS
}

fn bench(args: stampede_bench::BenchArgs) -> ExitCode {
    let _logging = init_logging("warn");
    let runtime = match runtime(0) {
        Ok(runtime) => runtime,
        Err(e) => return fail(e),
    };
    match runtime.block_on(stampede_bench::run(args)) {
        Ok(outcome) if outcome.audit.passed() => ExitCode::SUCCESS,
        Ok(_) => fail("audit failed (see the violations above)"),
        Err(e) => fail(format!("{e:#}")),
    }
}

fn baseline(listen: std::net::SocketAddr, worker_threads: usize) -> ExitCode {
    let _logging = init_logging("info");
    let runtime = match runtime(worker_threads) {
        Ok(runtime) => runtime,
        Err(e) => return fail(e),
    };
    runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => return fail(format!("bind {listen}: {e}")),
        };
        tracing::info!(%listen, "baseline listening");
        match stampede_bench::baseline::serve(listener, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
