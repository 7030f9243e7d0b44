//! `TRUSTED_DOCUMENTS`, `TRUSTED_DOCUMENTS_ONLY` and `DEMO_DIR`: which documents clients may
//! run, and the demo web app served at `/demo`.

use std::path::PathBuf;

use super::parse::parse_bool_or_auto;
use super::{AppEnv, Config, ConfigError, Settings};

/// Trusted documents and the demo app.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// The trusted-documents manifest, when one is configured (read and checked at start).
    pub trusted_documents: Option<PathBuf>,
    /// Whether only the manifest's documents run.
    pub trusted_documents_only: bool,
    /// The built demo app served at `/demo`, when set (development only).
    pub demo_dir: Option<PathBuf>,
}

/// Reads the settings; every path must exist so a typo fails at start, not at first use.
pub fn parse(s: &Settings, app_env: AppEnv) -> Result<WebConfig, ConfigError> {
    let trusted_documents = existing_path("TRUSTED_DOCUMENTS", &s.trusted_documents, false)?;
    // `auto` means off: trusted-only never switches itself on.
    let trusted_documents_only =
        parse_bool_or_auto("TRUSTED_DOCUMENTS_ONLY", &s.trusted_documents_only, false)?;
    if trusted_documents_only && trusted_documents.is_none() {
        return Err(ConfigError::new(
            "TRUSTED_DOCUMENTS_ONLY",
            "true needs a manifest: set TRUSTED_DOCUMENTS=FILE (graphql-codegen's \
             persisted-documents.json), or every operation is refused",
        ));
    }
    let demo_dir = existing_path("DEMO_DIR", &s.demo_dir, true)?;
    if demo_dir.is_some() && app_env == AppEnv::Production {
        return Err(ConfigError::new(
            "DEMO_DIR",
            "the demo app is for development; unset DEMO_DIR in production and host your own app",
        ));
    }
    Ok(WebConfig {
        trusted_documents,
        trusted_documents_only,
        demo_dir,
    })
}

/// In production, GraphiQL's exemption would let anyone run any document past
/// `TRUSTED_DOCUMENTS_ONLY`, so the two are refused together.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    if config.app_env == AppEnv::Production
        && config.web.trusted_documents_only
        && config.graphql.graphiql
    {
        return Err(ConfigError::new(
            "GRAPHIQL",
            "true with TRUSTED_DOCUMENTS_ONLY=true: GraphiQL's requests are exempt, so anyone \
             could run any document; set GRAPHIQL=false in production",
        ));
    }
    Ok(())
}

fn existing_path(variable: &str, raw: &str, dir: bool) -> Result<Option<PathBuf>, ConfigError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(raw);
    let found = if dir { path.is_dir() } else { path.is_file() };
    if !found {
        let kind = if dir { "folder" } else { "file" };
        return Err(ConfigError::new(
            variable,
            format!("{raw:?} is not a {kind} (relative paths start at the working directory)"),
        ));
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(change: impl FnOnce(&mut Settings)) -> Result<Config, ConfigError> {
        let mut settings = Settings::defaults();
        change(&mut settings);
        Config::from_settings(settings)
    }

    #[test]
    fn trusted_only_without_a_manifest_is_refused_by_name() {
        let err = config(|s| s.trusted_documents_only = "true".into()).unwrap_err();
        assert_eq!(err.variable, "TRUSTED_DOCUMENTS_ONLY");
        assert!(err.message.contains("TRUSTED_DOCUMENTS=FILE"), "{err}");
    }

    #[test]
    fn a_missing_manifest_or_demo_folder_is_refused_by_name() {
        let err =
            config(|s| s.trusted_documents = "/nonexistent/manifest.json".into()).unwrap_err();
        assert_eq!(err.variable, "TRUSTED_DOCUMENTS");
        let err = config(|s| s.demo_dir = "/nonexistent/dist".into()).unwrap_err();
        assert_eq!(err.variable, "DEMO_DIR");
    }

    #[test]
    fn a_manifest_and_trusted_only_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("persisted-documents.json");
        std::fs::write(&file, "{}").unwrap();
        let config = config(|s| {
            s.trusted_documents = file.display().to_string();
            s.trusted_documents_only = "true".into();
            s.demo_dir = dir.path().display().to_string();
        })
        .unwrap();
        assert_eq!(
            config.web.trusted_documents.as_deref(),
            Some(file.as_path())
        );
        assert!(config.web.trusted_documents_only);
        assert_eq!(config.web.demo_dir.as_deref(), Some(dir.path()));
    }

    fn production(s: &mut Settings) {
        s.app_env = "production".into();
        s.session_signing_keys =
            "k1:r8Jx0vQ2mZ7pLk4tN1sW9yB6cH3fD5gA0eU8iO2qT7wE4rY6uI1oP3aS5dF7gH9j".into();
        s.payments_sandbox = "true".into();
    }

    #[test]
    fn production_refuses_graphiql_beside_trusted_only_and_the_demo() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("persisted-documents.json");
        std::fs::write(&file, "{}").unwrap();
        let trusted_only = |s: &mut Settings| {
            production(s);
            s.trusted_documents = file.display().to_string();
            s.trusted_documents_only = "true".into();
        };
        assert!(config(trusted_only).unwrap().web.trusted_documents_only);
        let err = config(|s| {
            trusted_only(s);
            s.graphiql = "true".into();
        })
        .unwrap_err();
        assert_eq!(err.variable, "GRAPHIQL");
        let err = config(|s| {
            production(s);
            s.demo_dir = dir.path().display().to_string();
        })
        .unwrap_err();
        assert_eq!(err.variable, "DEMO_DIR");
    }
}
