//! `LISTEN/NOTIFY` transport of the event bus.

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{BusMessage, decode_sessions, encode_sessions};
use crate::store::{NOTICE_CHANNEL as CHANNEL, decode_notices};

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

    /// Sends ended sessions to every instance. (Payment notices are sent by the store, inside
    /// the transaction that appends their events.)
    pub async fn notify_sessions_ended(&self, sessions: &[uuid::Uuid]) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(SESSIONS_CHANNEL)
            .bind(encode_sessions(sessions))
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
                let messages: Option<Vec<BusMessage>> =
                    if notification.channel() == SESSIONS_CHANNEL {
                        decode_sessions(payload).map(|s| vec![BusMessage::SessionsEnded(s)])
                    } else {
                        decode_notices(payload)
                            .map(|n| n.into_iter().map(BusMessage::Changed).collect())
                    };
                match messages {
                    Some(messages) => {
                        for message in messages {
                            if let BusMessage::Changed(notice) = &message {
                                super::record_notice_lag(notice);
                            }
                            let _ = local.send(message);
                        }
                    }
                    // Something we cannot read may have been a notice: catch up from the store.
                    None => {
                        tracing::warn!(payload, "ignoring a malformed bus notice");
                        super::count_resync("malformed");
                        let _ = local.send(BusMessage::Resync);
                    }
                }
            }
            Ok(None) => {
                // The connection dropped and is being re-established: notices sent meanwhile
                // are lost, so subscribers must catch up from the store.
                tracing::warn!("event bus listener reconnected; subscribers resynchronise");
                super::count_resync("reconnect");
                let _ = local.send(BusMessage::Resync);
            }
            Err(err) => {
                tracing::warn!(error = %err, "event bus listener failed; retrying");
                super::count_resync("listener_error");
                let _ = local.send(BusMessage::Resync);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}
