//! Password hashing: Argon2id on a fixed pool of dedicated threads.
//!
//! Each hash holds `m_cost` KiB (19 MiB by default) and a core for tens of milliseconds, so the
//! number running at once is bounded by [`AuthConfig::hash_concurrency`](crate::AuthConfig),
//! which is the number of hashing threads: a login storm queues here instead of stalling token
//! checks (which never wait for this pool) or exhausting memory. Dedicated threads, rather than
//! tokio's elastic blocking pool, also bound the memory the allocator keeps after hashes: one
//! arena per hashing thread.
//! Verification against a missing or unusable hash runs against a dummy hash of the same cost,
//! so rejects cost the same work whether or not the identity exists. Counters record the work
//! done, so tests can check that equality without timing anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sesame_model::{Password, PasswordHash};
use tokio::sync::{oneshot, OnceCell};

use crate::{AuthError, HashParams};

/// Work counters (cumulative since start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashStats {
    /// New hashes computed.
    pub hashes: u64,
    /// Verifications run (real or dummy).
    pub verifications: u64,
    /// Of which against the dummy hash.
    pub dummy_verifications: u64,
}

/// The result of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Whether the password matched.
    pub ok: bool,
    /// Whether the stored hash should be replaced (other algorithm or parameters).
    pub needs_rehash: bool,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Hashes and verifies passwords with bounded concurrency.
#[derive(Debug)]
pub struct Hasher {
    params: HashParams,
    jobs: Mutex<mpsc::Sender<Job>>,
    threads: usize,
    dummy: OnceCell<PasswordHash>,
    hashes: AtomicU64,
    verifications: AtomicU64,
    dummies: AtomicU64,
    waiting: Arc<AtomicU64>,
}

fn argon(params: HashParams) -> Result<Argon2<'static>, AuthError> {
    let p = Params::new(params.m_cost_kib, params.t_cost, params.p_cost, None)
        .map_err(|e| AuthError::Internal(format!("invalid Argon2 parameters: {e}").into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

impl Hasher {
    /// A hasher with these parameters and at most `concurrency` hashes at once.
    pub fn new(params: HashParams, concurrency: usize) -> Result<Self, AuthError> {
        argon(params)?;
        let threads = concurrency.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("sesame-hash-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job; the job runs unlocked.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking job must not take the thread (and the pool's capacity) with it.
                        Ok(job) => {
                            drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)))
                        }
                        Err(_) => return, // the Hasher was dropped
                    }
                })
                .map_err(|e| AuthError::Internal(Box::new(e)))?;
        }
        Ok(Hasher {
            params,
            jobs: Mutex::new(tx),
            threads,
            dummy: OnceCell::new(),
            hashes: AtomicU64::new(0),
            verifications: AtomicU64::new(0),
            dummies: AtomicU64::new(0),
            waiting: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The work done so far.
    pub fn stats(&self) -> HashStats {
        HashStats {
            hashes: self.hashes.load(Ordering::Relaxed),
            verifications: self.verifications.load(Ordering::Relaxed),
            dummy_verifications: self.dummies.load(Ordering::Relaxed),
        }
    }

    /// How many hash jobs are waiting for a slot right now.
    pub fn queue_depth(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }

    fn waiting_counter(&self) -> Arc<AtomicU64> {
        self.waiting.clone()
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> HashParams {
        self.params
    }

    /// How many hashing threads run.
    pub fn threads(&self) -> usize {
        self.threads
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let (tx, rx) = oneshot::channel();
        let waiting = self.waiting_counter();
        let depth = waiting.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!("sesame_argon2_queue_depth").set(depth as f64);
        let wrapped: Job = Box::new(move || {
            let depth = waiting.fetch_sub(1, Ordering::Relaxed) - 1;
            metrics::gauge!("sesame_argon2_queue_depth").set(depth as f64);
            let started = std::time::Instant::now();
            let out = job();
            metrics::histogram!("sesame_argon2_seconds").record(started.elapsed().as_secs_f64());
            // A caller that went away (request cancelled) just doesn't read the result.
            let _ = tx.send(out);
        });
        self.jobs
            .lock()
            .map_err(|_| AuthError::Internal("hash pool poisoned".into()))?
            .send(wrapped)
            .map_err(|_| AuthError::Internal("hash pool stopped".into()))?;
        rx.await.map_err(|_| AuthError::Internal("a hash job panicked".into()))
    }

    /// Hashes a new password with a fresh 16-byte salt from the OS.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, AuthError> {
        let params = self.params;
        let password = password.clone();
        self.hashes.fetch_add(1, Ordering::Relaxed);
        self.run(move || {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).map_err(|e| AuthError::Internal(e.to_string().into()))?;
            let salt = SaltString::encode_b64(&salt)
                .map_err(|e| AuthError::Internal(e.to_string().into()))?;
            let phc = argon(params)?
                .hash_password(password.as_bytes(), &salt)
                .map_err(|e| AuthError::Internal(e.to_string().into()))?;
            Ok(PasswordHash::new(phc.to_string()))
        })
        .await?
    }

    async fn dummy(&self) -> Result<&PasswordHash, AuthError> {
        self.dummy
            .get_or_try_init(|| async {
                let mut pw = [0u8; 16];
                getrandom::fill(&mut pw).map_err(|e| AuthError::Internal(e.to_string().into()))?;
                let pw: String = pw.iter().map(|b| format!("{b:02x}")).collect();
                let h = self.hash(&Password::new(pw)).await;
                self.hashes.fetch_sub(1, Ordering::Relaxed);
                h
            })
            .await
    }

    /// Spends one verification's work against the dummy hash; always `false`.
    pub async fn verify_dummy(&self, password: &Password) -> Result<bool, AuthError> {
        let dummy = self.dummy().await?.clone();
        self.dummies.fetch_add(1, Ordering::Relaxed);
        self.verify_phc(password, dummy).await?;
        Ok(false)
    }

    /// Verifies `password` against `hash`. A missing or unparsable hash costs a dummy
    /// verification and never matches.
    pub async fn verify(
        &self,
        password: &Password,
        hash: Option<&PasswordHash>,
    ) -> Result<Verified, AuthError> {
        let Some(hash) = hash.filter(|h| argon2::PasswordHash::new(h.as_str()).is_ok()) else {
            self.verify_dummy(password).await?;
            return Ok(Verified { ok: false, needs_rehash: false });
        };
        let needs_rehash = self.needs_rehash(hash);
        let ok = self.verify_phc(password, hash.clone()).await?;
        Ok(Verified { ok, needs_rehash: ok && needs_rehash })
    }

    async fn verify_phc(&self, password: &Password, hash: PasswordHash) -> Result<bool, AuthError> {
        let password = password.clone();
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.run(move || {
            let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else { return false };
            // Verification uses the parameters recorded in the hash, not ours.
            Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
        })
        .await
    }

    /// Whether a stored hash uses another algorithm, version or parameters than ours.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(hash.as_str()) else { return true };
        if parsed.algorithm != Algorithm::Argon2id.ident() || parsed.version != Some(0x13) {
            return true;
        }
        let Ok(p) = Params::try_from(&parsed) else { return true };
        p.m_cost() != self.params.m_cost_kib
            || p.t_cost() != self.params.t_cost
            || p.p_cost() != self.params.p_cost
    }
}
