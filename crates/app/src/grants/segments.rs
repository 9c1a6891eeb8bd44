//! Tag segments: which users carry a tag, as the mall last sent it.
//!
//! The mall owns its users and their tags; it sends a segment's whole
//! membership (`replace_segment`), or removes one member. The stored tags
//! are the user's tags when a grant checks the template's audience, and a
//! segment grant copies the members as they stand when it is created.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;

use super::{GRANT_USERS_MAX, check_user_id};
use crate::{App, AppError, AppResult};

/// Longest tag accepted.
pub const TAG_CHARS_MAX: usize = 64;
/// Members one segment holds at most.
pub const SEGMENT_MEMBERS_MAX: usize = GRANT_USERS_MAX;
/// Rows per multi-row INSERT of members (3 parameters each).
const INSERT_ROWS_MAX: usize = 1_000;
/// Ids per `IN (…)` list.
const IN_LIST_MAX: usize = 1_000;

/// A segment and how many members it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub tag: String,
    pub members: u64,
}

/// A tag: 1 to 64 characters, no blank, no whitespace or control
/// characters (tags appear in paths and audiences).
pub fn check_tag(tag: &str) -> Result<(), &'static str> {
    if tag.is_empty() {
        return Err("is empty");
    }
    if tag.chars().count() > TAG_CHARS_MAX {
        return Err("is longer than 64 characters");
    }
    if tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds whitespace or a control character");
    }
    Ok(())
}

impl App {
    /// Makes `users` the whole membership of `tag` (duplicates are
    /// dropped); answers the segment.
    pub async fn replace_segment(&self, tag: &str, users: Vec<String>) -> AppResult<Segment> {
        check_tag(tag).map_err(|why| AppError::invalid("tag", why))?;
        if users.len() > SEGMENT_MEMBERS_MAX {
            return Err(AppError::invalid(
                "users",
                format!("a segment has at most {SEGMENT_MEMBERS_MAX} members"),
            ));
        }
        let mut seen = HashSet::with_capacity(users.len());
        let mut members = Vec::with_capacity(users.len());
        for (index, user) in users.into_iter().enumerate() {
            if let Err(why) = check_user_id(&user) {
                return Err(AppError::invalid(format!("users[{index}]"), why));
            }
            if seen.insert(user.clone()) {
                members.push(user);
            }
        }
        let (tag, now) = (tag.to_owned(), self.now());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM user_tags WHERE tag = $1")
                        .bind(&tag)
                        .execute(&mut *connection)
                        .await
                        .map_err(StoreError::from)?;
                    insert_members(connection, &tag, &members, now).await?;
                    Ok::<_, AppError>(Segment {
                        tag,
                        members: members.len() as u64,
                    })
                })
            })
            .await
    }

    /// Takes `user` out of `tag`; answers the segment.
    pub async fn remove_segment_member(&self, tag: &str, user: &str) -> AppResult<Segment> {
        check_tag(tag).map_err(|why| AppError::invalid("tag", why))?;
        let (tag_owned, user) = (tag.to_owned(), user.to_owned());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM user_tags WHERE tag = $1 AND user_id = $2")
                        .bind(&tag_owned)
                        .bind(&user)
                        .execute(&mut *connection)
                        .await
                        .map_err(StoreError::from)?;
                    Ok::<(), AppError>(())
                })
            })
            .await?;
        self.segment(tag).await
    }

    /// A segment's size (0 for a tag nobody carries).
    pub async fn segment(&self, tag: &str) -> AppResult<Segment> {
        check_tag(tag).map_err(|why| AppError::invalid("tag", why))?;
        let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_tags WHERE tag = $1")
            .bind(tag)
            .fetch_one(self.store.reader())
            .await
            .map_err(StoreError::from)?;
        Ok(Segment {
            tag: tag.to_owned(),
            members: u64::try_from(members).unwrap_or(0),
        })
    }

    /// The stored tags of each of `users` (users without any are absent).
    pub async fn user_tags(&self, users: &[String]) -> AppResult<HashMap<String, Vec<String>>> {
        let mut tags: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in users.chunks(IN_LIST_MAX) {
            let mut params = Params::new(self.store.backend());
            let sql = format!(
                "SELECT user_id, tag FROM user_tags WHERE user_id IN ({}) ORDER BY user_id, tag",
                params.list(chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for user in chunk {
                query = query.bind(user.as_str());
            }
            let rows = query
                .fetch_all(self.store.reader())
                .await
                .map_err(StoreError::from)?;
            for row in rows {
                let user: String = row.try_get("user_id").map_err(StoreError::from)?;
                let tag: String = row.try_get("tag").map_err(StoreError::from)?;
                tags.entry(user).or_default().push(tag);
            }
        }
        Ok(tags)
    }
}

async fn insert_members(
    connection: &mut AnyConnection,
    tag: &str,
    members: &[String],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for chunk in members.chunks(INSERT_ROWS_MAX) {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "INSERT INTO user_tags (user_id, tag, created_at) VALUES {}",
            params.rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        for user in chunk {
            query = query.bind(user.as_str()).bind(tag).bind(to_micros(now));
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// Copies the members of `tag` into the grant's users, in user id order;
/// answers how many.
pub(super) async fn copy_members(
    connection: &mut AnyConnection,
    grant_id: &str,
    tag: &str,
) -> AppResult<u64> {
    let done = sqlx::query(
        "INSERT INTO grant_users (grant_id, position, user_id) \
         SELECT $1, ROW_NUMBER() OVER (ORDER BY user_id), user_id FROM user_tags WHERE tag = $2",
    )
    .bind(grant_id)
    .bind(tag)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_words() {
        assert!(check_tag("vip").is_ok());
        assert!(check_tag("新客-2026").is_ok());
        assert!(check_tag("").is_err());
        assert!(check_tag("a b").is_err());
        assert!(check_tag(&"t".repeat(65)).is_err());
    }
}
