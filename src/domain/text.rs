//! Storing a domain value as text on both backends, for values the `sqlx::Type` derive cannot
//! express: open enums that keep an unknown value verbatim, and structured values.

/// Implements `sqlx::Type`, `Encode` and `Decode` for `$ty` as a text column on SQLite and
/// PostgreSQL, given `fn as_text(&self) -> Cow<str>` and `TryFrom<&str>` on it. A stored text the
/// type refuses is a decode error, never a silent default.
macro_rules! stored_as_text {
    ($ty:ty) => {
        $crate::domain::text::stored_as_text!(@db $ty, sqlx::Sqlite);
        $crate::domain::text::stored_as_text!(@db $ty, sqlx::Postgres);
    };
    (@db $ty:ty, $db:ty) => {
        impl sqlx::Type<$db> for $ty {
            fn type_info() -> <$db as sqlx::Database>::TypeInfo {
                <str as sqlx::Type<$db>>::type_info()
            }

            fn compatible(ty: &<$db as sqlx::Database>::TypeInfo) -> bool {
                <str as sqlx::Type<$db>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, $db> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut <$db as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'_, $db>>::encode(self.as_text().into_owned(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, $db> for $ty {
            fn decode(
                value: <$db as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, $db>>::decode(value)?;
                Ok(<$ty>::try_from(text)?)
            }
        }
    };
}

pub(crate) use stored_as_text;
