//! `LISTEN/NOTIFY` transport of the event bus.

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{BusMessage, Notice, decode_sessions, encode_sessions};

/// The channel of payment notices, which every instance listens on.
const CHANNEL: &str = "switchboard_payment_events";
/// The channel of ended login sessions.
const SESSIONS_CHANNEL: &str = "switchboard_sessions_ended";

/// Sends NOTIFYs; its listener task rebroadcasts what arrives.
pub struct Notifier {
    pool: PgPool,
}

impl Notifier {
    /// Connects, starts listening and spawns the task that forwards notifications to `local`.
    pub async fn start(
        url: &str,
        local: broadcast::Sender<BusMessage>,
        stop: CancellationToken,
    ) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen_all([CHANNEL, SESSIONS_CHANNEL]).await?;
        tokio::spawn(async move {
            tokio::select! {
                () = forward(&mut listener, &local) => {}
                () = stop.cancelled() => {}
            }
        });
        Ok(Self { pool })
    }

    /// Sends `message` to every instance, on its channel.
    pub async fn notify(&self, message: &BusMessage) -> Result<(), sqlx::Error> {
        let (channel, payload) = match message {
            BusMessage::Changed(notice) => (CHANNEL, notice.encode()),
            BusMessage::SessionsEnded(sessions) => (SESSIONS_CHANNEL, encode_sessions(sessions)),
            // A resync is news about this instance's own listener, never sent to others.
            BusMessage::Resync => return Ok(()),
        };
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

async fn forward(listener: &mut PgListener, local: &broadcast::Sender<BusMessage>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let payload = notification.payload();
                let message = if notification.channel() == SESSIONS_CHANNEL {
                    decode_sessions(payload).map(BusMessage::SessionsEnded)
                } else {
                    Notice::decode(payload).map(BusMessage::Changed)
                };
                match message {
                    Some(message) => {
                        let _ = local.send(message);
                    }
                    None => tracing::warn!(payload, "ignoring a malformed bus notice"),
                }
            }
            Ok(None) => {
                // The connection dropped and is being re-established: notices sent meanwhile
                // are lost, so subscribers must catch up from the store.
                tracing::warn!("event bus listener reconnected; subscribers resynchronise");
                let _ = local.send(BusMessage::Resync);
            }
            Err(err) => {
                tracing::warn!(error = %err, "event bus listener failed; retrying");
                let _ = local.send(BusMessage::Resync);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}
