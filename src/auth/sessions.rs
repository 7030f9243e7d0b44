//! Sessions: issuing tokens, refreshing with rotation (a reused refresh token revokes the whole
//! session), logging out, and authenticating requests.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::session_cache::VerifiedSession;
use super::tokens::{TokenError, random_token, token_hash};
use super::{AuthService, Credentials, IssuedSession, Viewer, ViewerState};
use crate::error::{AppError, AuthReason};
use crate::events::BusMessage;
use crate::store::{Rotation, Session, User};

impl AuthService {
    /// Starts a session for `user` and issues its first tokens.
    pub async fn start_session(
        &self,
        user: User,
        provider: &str,
    ) -> Result<IssuedSession, AppError> {
        let now = Utc::now();
        let session = Session {
            id: uuid::Uuid::now_v7(),
            user_id: user.id,
            provider: provider.to_owned(),
            created_at: now,
            expires_at: now + self.session_ttl,
            revoked_at: None,
        };
        let refresh_token = random_token();
        self.store
            .create_session(&session, &token_hash(&refresh_token), session.expires_at)
            .await?;
        let (access_token, access_expires_at) = self.signer.issue(user.id, session.id, now);
        Ok(IssuedSession {
            access_token,
            access_expires_at,
            refresh_token,
            session,
            user,
        })
    }

    /// Spends a refresh token for a new pair. Presented again within the grace window while
    /// its successor is unused (a second tab, a retry), it returns that same pair; any other
    /// reuse ends the session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedSession, AppError> {
        let now = Utc::now();
        let next = self.signer.successor(refresh_token);
        let grace = chrono::Duration::from_std(self.refresh_grace).unwrap_or_default();
        let rotation = self
            .store
            .rotate_refresh_token(
                &token_hash(refresh_token),
                &token_hash(&next),
                now + self.session_ttl,
                now,
                grace,
            )
            .await?;
        metrics::counter!(
            crate::telemetry::stages::SESSION_REFRESHES_TOTAL,
            "outcome" => rotation_outcome(&rotation)
        )
        .increment(1);
        let (session, next, issued_at) = match rotation {
            Rotation::Rotated(session) => (session, next, now),
            Rotation::Replayed {
                session,
                successor_hash,
                rotated_at,
            } => {
                // The successor was derived under the key that signed at the first use.
                let next = self
                    .signer
                    .successor_candidates(refresh_token)
                    .find(|candidate| token_hash(candidate) == successor_hash)
                    .ok_or_else(|| {
                        AppError::unauthenticated(
                            AuthReason::TokenInvalid,
                            "the refresh token is not valid; sign in again",
                        )
                    })?;
                (session, next, rotated_at)
            }
            Rotation::Reused(session_id) => {
                tracing::warn!(%session_id, "a spent refresh token was presented again; session revoked");
                self.sessions_ended(&[session_id]).await;
                return Err(AppError::unauthenticated(
                    AuthReason::SessionEnded,
                    "this refresh token was already used; the session has been ended for safety, sign in again",
                ));
            }
            Rotation::Invalid => {
                return Err(AppError::unauthenticated(
                    AuthReason::TokenInvalid,
                    "the refresh token is not valid; sign in again",
                ));
            }
        };
        let user = self
            .store
            .user_by_id(session.user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        // Issued as of the rotation, so every replay receives the very same access token.
        let (access_token, access_expires_at) = self.signer.issue(user.id, session.id, issued_at);
        Ok(IssuedSession {
            access_token,
            access_expires_at: access_expires_at.min(session.expires_at),
            refresh_token: next,
            session,
            user,
        })
    }

    /// Ends the viewer's session, or every session of the user, and closes their sockets.
    pub async fn logout(&self, viewer: &Viewer, everywhere: bool) -> Result<(), AppError> {
        let now = Utc::now();
        let ended = if everywhere {
            self.store.revoke_user_sessions(viewer.user_id, now).await?
        } else {
            self.store.revoke_session(viewer.session_id, now).await?;
            vec![viewer.session_id]
        };
        self.sessions_ended(&ended).await;
        tracing::info!(user_id = %viewer.user_id, sessions = ended.len(), "signed out");
        Ok(())
    }

    /// Authenticates a request. `is_cookie_mutation` tells whether the request is a mutation,
    /// which cookie credentials may only run with a matching CSRF header.
    pub async fn authenticate(
        &self,
        credentials: &Credentials,
        is_cookie_mutation: impl FnOnce() -> bool,
    ) -> ViewerState {
        if let Some(duplicate) = &credentials.duplicate
            && credentials.relies_on_cookies()
        {
            return ViewerState::Rejected(duplicate.clone().into_error());
        }
        let Some((token, source)) = &credentials.access else {
            return ViewerState::Anonymous;
        };
        match self.session_of(token, *source).await {
            Ok((viewer, _)) => {
                if credentials.uses_cookie() && !credentials.csrf_matches() && is_cookie_mutation()
                {
                    return ViewerState::Rejected(self.cookies.csrf_refusal());
                }
                ViewerState::SignedIn(viewer)
            }
            Err(err) => ViewerState::Rejected(err),
        }
    }

    /// Verifies an access token and that its session is still active.
    pub async fn session_of(
        &self,
        token: &str,
        source: super::CredentialSource,
    ) -> Result<(Viewer, Arc<VerifiedSession>), AppError> {
        let claims = self.signer.verify(token).map_err(|e| match e {
            TokenError::Expired => {
                AppError::unauthenticated(AuthReason::TokenExpired, e.to_string())
            }
            TokenError::Invalid => AppError::unauthenticated(
                AuthReason::TokenInvalid,
                "the access token is not valid; sign in again",
            ),
        })?;
        let verified = self
            .verified_session(claims.sid)
            .await?
            .filter(|v| v.session.is_active(Utc::now()) && v.session.user_id == claims.sub)
            .ok_or_else(|| {
                AppError::unauthenticated(
                    AuthReason::SessionEnded,
                    "this session has ended; sign in again",
                )
            })?;
        let viewer = Viewer {
            user_id: claims.sub,
            session_id: claims.sid,
            // Authority comes from the user row (remembered for a few seconds at most).
            is_admin: verified.user.is_admin,
            source,
        };
        Ok((viewer, verified))
    }

    /// Reads the socket's session and user afresh from the database (not the cache) and
    /// answers whether `viewer` still stands: the session is active and the user's rights
    /// are those the socket was authenticated with.
    pub async fn viewer_still_stands(&self, viewer: &Viewer) -> Result<bool, AppError> {
        let Some(session) = self.store.session_by_id(viewer.session_id).await? else {
            return Ok(false);
        };
        if !session.is_active(Utc::now()) {
            return Ok(false);
        }
        let user = self.store.user_by_id(session.user_id).await?;
        Ok(user.is_some_and(|u| u.id == viewer.user_id && u.is_admin == viewer.is_admin))
    }

    /// When a valid access token expires.
    pub fn access_expiry(&self, token: &str) -> Option<chrono::DateTime<Utc>> {
        let claims = self.signer.verify(token).ok()?;
        chrono::DateTime::from_timestamp(claims.exp, 0)
    }

    /// How long an access token lives.
    pub fn access_ttl(&self) -> std::time::Duration {
        self.access_ttl
    }

    /// Ends `sessions` here at once and tells the other instances.
    async fn sessions_ended(&self, sessions: &[uuid::Uuid]) {
        self.end_sessions_locally(sessions);
        self.bus.publish_sessions_ended(sessions).await;
    }

    /// Forgets `sessions` and closes their sockets on this instance.
    fn end_sessions_locally(&self, sessions: &[uuid::Uuid]) {
        self.session_cache.forget(sessions);
        self.sockets.end(sessions);
    }

    /// Follows sessions ended on any instance until `stop`: each is forgotten and its sockets
    /// closed here too. When ends may have been missed, every remembered session is forgotten.
    pub fn follow_ended_sessions(self: &Arc<Self>, stop: CancellationToken) {
        let mut receiver = self.bus.subscribe();
        let auth = self.clone();
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    message = receiver.recv() => message,
                    () = stop.cancelled() => return,
                };
                match message {
                    Ok(BusMessage::SessionsEnded(sessions)) => auth.end_sessions_locally(&sessions),
                    Ok(BusMessage::Resync) | Err(RecvError::Lagged(_)) => {
                        auth.session_cache.clear();
                    }
                    Ok(BusMessage::Changed(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// The signed-in user behind `viewer`; no database read when the session was verified in
    /// the last few seconds.
    pub async fn viewer_user(&self, viewer: &Viewer) -> Result<Option<User>, AppError> {
        Ok(self
            .verified_session(viewer.session_id)
            .await?
            .map(|verified| verified.user.clone())
            .filter(|user| user.id == viewer.user_id))
    }

    /// A session and its user, from the cache of recently verified sessions or the database.
    async fn verified_session(
        &self,
        session_id: uuid::Uuid,
    ) -> Result<Option<Arc<VerifiedSession>>, AppError> {
        if let Some(verified) = self.session_cache.get(session_id) {
            return Ok(Some(verified));
        }
        // Boxed: the database read's future is kilobytes, and every request's future (and each
        // future holding it, moved on every call) would otherwise be sized for this rare path.
        Box::pin(self.read_session(session_id)).await
    }

    /// A session and its user from the database, remembered when still active.
    async fn read_session(
        &self,
        session_id: uuid::Uuid,
    ) -> Result<Option<Arc<VerifiedSession>>, AppError> {
        let generation = self.session_cache.generation();
        let Some(session) = self.store.session_by_id(session_id).await? else {
            return Ok(None);
        };
        let Some(user) = self.store.user_by_id(session.user_id).await? else {
            return Ok(None);
        };
        let verified = VerifiedSession { session, user };
        // Only active sessions are worth remembering; an ended one is refused either way.
        if verified.session.is_active(Utc::now()) {
            self.session_cache.put(verified.clone(), generation);
        }
        Ok(Some(Arc::new(verified)))
    }
}

/// The `outcome` label of a refresh-token exchange; `reused` is a reuse detection.
fn rotation_outcome(rotation: &Rotation) -> &'static str {
    match rotation {
        Rotation::Rotated(_) => "rotated",
        Rotation::Replayed { .. } => "replayed",
        Rotation::Reused(_) => "reused",
        Rotation::Invalid => "invalid",
    }
}
