use md5::{Digest, Md5};

/// The Active Objects prefix Jira derives from an app key: `AO_` and the last six hex
/// digits, upper case, of the key's MD5. `com.atlassian.example.ao.myplugin` → `AO_28BE2D`.
pub fn ao_prefix(app_key: &str) -> String {
    let digest = Md5::digest(app_key.as_bytes());
    format!("AO_{:02X}{:02X}{:02X}", digest[13], digest[14], digest[15])
}

/// The full name of one of an app's tables: `ao_table("com.atlassian.example.ao.myplugin",
/// "MY_OBJECT")` is `AO_28BE2D_MY_OBJECT`.
pub fn ao_table(app_key: &str, entity: &str) -> String {
    format!("{}_{}", ao_prefix(app_key), entity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_prefix_vector() {
        assert_eq!(ao_prefix("com.atlassian.example.ao.myplugin"), "AO_28BE2D");
        assert_eq!(
            ao_table("com.atlassian.example.ao.myplugin", "MY_OBJECT"),
            "AO_28BE2D_MY_OBJECT"
        );
        // Jira Software's real prefix.
        assert_eq!(ao_prefix("com.pyxis.greenhopper.jira"), "AO_60DB71");
    }
}
