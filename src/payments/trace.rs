//! Writing down the trace a payment was created in, so its later webhooks, their application
//! and the pushes to subscribers link back to it.

use uuid::Uuid;

use super::PaymentService;

impl PaymentService {
    /// Records the current trace context for `payment_id`, when traces are on. A failure only
    /// loses the link, so it is logged rather than failing the payment.
    pub(super) async fn remember_trace(&self, payment_id: Uuid) {
        let Some(traceparent) = crate::telemetry::context::current_traceparent() else {
            return;
        };
        if let Err(err) = self
            .store
            .save_payment_trace(payment_id, &traceparent)
            .await
        {
            tracing::warn!(payment_id = %payment_id, error = %err, "could not record the payment's trace");
        }
    }
}
