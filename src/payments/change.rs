//! The one compare-and-swap loop of payment changes: read the payment, decide, write only if
//! nobody changed it meanwhile, and decide again from fresh state when somebody did.

use std::future::Future;

use super::PaymentStatus;

/// Times a change is decided again before the writer gives up (and the caller answers
/// "try again", or the inbox retries the event later).
pub(super) const CHANGE_ROUNDS: usize = 5;

/// Runs `round` over `items` until every item is settled, at most [`CHANGE_ROUNDS`] times.
/// `round` gets the items still open and answers, per item in order, `Some(outcome)` when it is
/// settled or `None` when another writer got there first (nothing was written for it). Returns
/// an outcome per item in order, `None` for those still contended after the last round.
pub(super) async fn until_settled<T, O, E, Fut>(
    items: Vec<T>,
    mut round: impl FnMut(Vec<T>) -> Fut,
) -> Result<Vec<Option<O>>, E>
where
    T: Clone,
    Fut: Future<Output = Result<Vec<Option<O>>, E>>,
{
    let mut outcomes: Vec<Option<O>> = items.iter().map(|_| None).collect();
    let mut open: Vec<usize> = (0..items.len()).collect();
    for _ in 0..CHANGE_ROUNDS {
        if open.is_empty() {
            break;
        }
        let results = round(open.iter().map(|&i| items[i].clone()).collect()).await?;
        let mut contended = Vec::new();
        for (i, result) in open.into_iter().zip(results) {
            match result {
                Some(outcome) => outcomes[i] = Some(outcome),
                None => contended.push(i),
            }
        }
        open = contended;
    }
    Ok(outcomes)
}

/// The status of a paid payment of `amount` once `refunded` of it is refunded.
pub(super) fn refund_status(amount: i64, refunded: i64) -> PaymentStatus {
    if refunded >= amount {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn contended_items_are_decided_again_until_the_rounds_run_out() {
        let mut rounds = 0;
        let outcomes = until_settled(vec![1, 2, 3], |open: Vec<i32>| {
            rounds += 1;
            let round = rounds;
            // 1 settles at once, 2 on the third round, 3 never.
            let results = open
                .iter()
                .map(|&i| (i == 1 || (i == 2 && round == 3)).then_some(i * 10))
                .collect();
            async move { Ok::<_, ()>(results) }
        })
        .await
        .unwrap();
        assert_eq!(outcomes, [Some(10), Some(20), None]);
        assert_eq!(rounds, CHANGE_ROUNDS);
    }

    #[test]
    fn refunds_up_to_the_amount_are_partial() {
        assert_eq!(refund_status(500, 499), PaymentStatus::PartiallyRefunded);
        assert_eq!(refund_status(500, 500), PaymentStatus::Refunded);
    }
}
