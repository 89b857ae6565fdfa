//! `peregrine-server [config-file] [--name value ...]`: starts Peregrine.

use peregrine_server::{startup, Config};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--version" || arg == "-v") {
        println!(
            "Peregrine server v={} (Redis {} compatible)",
            env!("CARGO_PKG_VERSION"),
            peregrine_server::REDIS_VERSION
        );
        return;
    }
    let config = match Config::from_args(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("\n*** FATAL CONFIG FILE ERROR ***\n{error}");
            std::process::exit(1);
        }
    };
    let settings = config.settings();
    if settings.daemonize && !settings.supervised.is_supervised() {
        if let Err(error) = peregrine_server::process::daemonize() {
            eprintln!("peregrine-server: can't daemonize: {error}");
            std::process::exit(1);
        }
    }
    // As redis-server does, let jemalloc return freed memory to the system from a
    // background thread instead of only during allocation calls.
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
    if let Err(error) = startup::run(config) {
        eprintln!("peregrine-server: {error:#}");
        std::process::exit(1);
    }
}
