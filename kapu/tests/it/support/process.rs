//! The real `kapu` binary as a child process: started with arguments and
//! environment, found listening from its JSON log, stopped with a signal.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's log lines after "listening", complete once it has exited.
pub type Logs = std::thread::JoinHandle<Vec<String>>;

/// A running `kapu`.
pub struct KapuProcess {
    pub child: Child,
    pub port: u16,
    /// Its id in sweep leases (`this_process()`), from the "listening" line.
    pub process_id: String,
    logs: Option<Logs>,
}

impl KapuProcess {
    /// `kapu {args}` with `env` (and no inherited `KAPU_*` but `PATH`-like
    /// basics); waits up to a minute for "kapu listening".
    pub fn start(args: &[&str], env: &[(&str, String)]) -> Self {
        // A long drill runs a copy (`KAPU_TEST_BIN`), so rebuilding the
        // checkout meanwhile cannot swap the binary under its restarts.
        let bin = std::env::var("KAPU_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kapu").to_string());
        let mut cmd = Command::new(bin);
        cmd.args(args).env("KAPU_LOG_FORMAT", "json").stdout(Stdio::piped()).stderr(Stdio::null());
        for (k, _) in std::env::vars() {
            if k.starts_with("KAPU_") {
                cmd.env_remove(k);
            }
        }
        // No canary purchases unless the test asks: they would add a shop and orders to what drills count.
        cmd.env("KAPU_CANARY_INTERVAL_SECS", "0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start kapu");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut port = None;
        let mut process_id = String::new();
        let mut lines = out.lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "kapu listening"
            {
                port = v["addr"].as_str().and_then(|a| a.parse::<std::net::SocketAddr>().ok()).map(|a| a.port());
                process_id = v["process"].as_str().unwrap_or_default().to_string();
                break;
            }
            if Instant::now() > deadline {
                break;
            }
        }
        // Keep reading (and keep the lines) so the server never writes into a closed pipe.
        let logs = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        match port {
            Some(port) => Self { child, port, process_id, logs: Some(logs) },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kapu {args:?} did not start listening");
            }
        }
    }

    /// Sends `signal` (`TERM`, `KILL`) and returns at once.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("kill").success());
    }

    /// Sends `signal` (`TERM`, `KILL`) and waits up to 20 s for the exit.
    pub fn signal_and_wait(self, signal: &str) -> (std::process::ExitStatus, Vec<String>) {
        self.signal(signal);
        self.wait()
    }

    /// Waits up to 20 s for the process to exit; its status and log lines.
    pub fn wait(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let logs = self.logs.take().map(|l| l.join().unwrap_or_default()).unwrap_or_default();
                return (status, logs);
            }
            assert!(Instant::now() < deadline, "kapu did not stop within 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for KapuProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
