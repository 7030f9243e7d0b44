-- Why a payment's last attempt failed, as shown to clients (`Payment.lastError`): set from the
-- provider's failure (webhook or a read-back), cleared when the payment succeeds. All NULL when
-- there is none. The message is already the safe, shortened text clients may show.
ALTER TABLE payments ADD COLUMN last_error_code TEXT;
ALTER TABLE payments ADD COLUMN last_error_decline_code TEXT;
ALTER TABLE payments ADD COLUMN last_error_message TEXT;
