//! The one pagination protocol of the read side: check the page size, fetch one item more than
//! asked for to learn whether more follow, and drop it.

use std::future::Future;

use crate::error::AppError;

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// At most the page size, in the order fetched.
    pub items: Vec<T>,
    /// Whether more items lie beyond this page (in the direction fetched).
    pub has_more: bool,
}

/// Checks a client's page size (`first`, `last`): 1 to `max`, else a `BAD_USER_INPUT` naming
/// `field`.
pub fn page_size(size: i32, max: i32, field: &str) -> Result<usize, AppError> {
    if (1..=max).contains(&size) {
        Ok(size as usize)
    } else {
        Err(AppError::bad_input(
            field,
            format!("{field} must be from 1 to {max}"),
        ))
    }
}

/// Fetches a page of `size` items: `fetch` is asked for at most `size + 1`.
pub async fn fetch_page<T, E, Fut>(
    size: usize,
    fetch: impl FnOnce(i64) -> Fut,
) -> Result<Page<T>, E>
where
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let limit = i64::try_from(size).unwrap_or(i64::MAX - 1) + 1;
    let mut items = fetch(limit).await?;
    let has_more = items.len() > size;
    items.truncate(size);
    Ok(Page { items, has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_more_than_the_page_tells_whether_more_follow() {
        let rows = |n: i64| async move { Ok::<_, ()>((0..n.min(5)).collect::<Vec<_>>()) };
        let page = fetch_page(3, rows).await.unwrap();
        assert_eq!(
            page,
            Page {
                items: vec![0, 1, 2],
                has_more: true
            }
        );
        let page = fetch_page(5, rows).await.unwrap();
        assert_eq!(
            page,
            Page {
                items: vec![0, 1, 2, 3, 4],
                has_more: false
            }
        );
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(20, 100, "first").unwrap(), 20);
        assert!(page_size(0, 100, "first").is_err());
        assert!(page_size(101, 100, "last").is_err());
    }
}
