//! UpsertBuyer's `update_mask` (AIP-134): which Buyer fields a partial write
//! changes. Merging happens on the protobuf message, so the merged buyer is
//! validated by the same conversion as a full write.

use super::pb;
use crate::service::ServiceError;

/// The Buyer fields a mask may name: the top-level fields of `Buyer` except
/// `buyer_id`, which names the buyer and cannot change.
const FIELDS: [&str; 10] = [
    "name",
    "country_code",
    "currency_code",
    "risk_tier",
    "credit_limit",
    "payment_terms_days",
    "financials",
    "external_rating",
    "insurance",
    "early_payment_discount",
];

/// The paths of a mask, checked; `None` for a full replace (no mask, an empty
/// one, or `*`).
pub fn paths(
    mask: Option<&crate::grpc::field_mask::FieldMask>,
) -> Result<Option<Vec<String>>, ServiceError> {
    let Some(mask) = mask.filter(|m| !m.paths.is_empty()) else {
        return Ok(None);
    };
    if mask.paths.iter().any(|p| p == "*") {
        if mask.paths.len() > 1 {
            return Err(ServiceError::invalid(
                "update_mask",
                "\"*\" replaces the whole buyer and cannot be combined with other paths",
            ));
        }
        return Ok(None);
    }
    for path in &mask.paths {
        if !FIELDS.contains(&path.as_str()) {
            return Err(ServiceError::invalid(
                "update_mask",
                format!(
                    "names {path:?}, which is not a Buyer field that can change; use any of {}",
                    FIELDS.join(", ")
                ),
            ));
        }
    }
    Ok(Some(mask.paths.clone()))
}

/// `stored` with the fields named in `paths` taken from `update`.
pub fn merge(mut stored: pb::Buyer, update: &pb::Buyer, paths: &[String]) -> pb::Buyer {
    for path in paths {
        match path.as_str() {
            "name" => stored.name = update.name.clone(),
            "country_code" => stored.country_code = update.country_code.clone(),
            "currency_code" => stored.currency_code = update.currency_code.clone(),
            "risk_tier" => stored.risk_tier = update.risk_tier,
            "credit_limit" => stored.credit_limit = update.credit_limit.clone(),
            "payment_terms_days" => stored.payment_terms_days = update.payment_terms_days,
            "financials" => stored.financials = update.financials.clone(),
            "external_rating" => stored.external_rating = update.external_rating,
            "insurance" => stored.insurance = update.insurance.clone(),
            "early_payment_discount" => {
                stored.early_payment_discount = update.early_payment_discount.clone()
            }
            // `paths` only returns the names above.
            _ => {}
        }
    }
    stored
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> crate::grpc::field_mask::FieldMask {
        crate::grpc::field_mask::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn no_mask_or_star_is_a_full_replace() {
        assert_eq!(paths(None).unwrap(), None);
        assert_eq!(paths(Some(&mask(&[]))).unwrap(), None);
        assert_eq!(paths(Some(&mask(&["*"]))).unwrap(), None);
    }

    #[test]
    fn unknown_and_immutable_paths_are_refused_naming_update_mask() {
        for bad in [&["buyer_id"][..], &["nmae"], &["*", "name"]] {
            let error = paths(Some(&mask(bad))).unwrap_err();
            assert!(
                matches!(&error, ServiceError::InvalidArgument { field, .. } if field == "update_mask"),
                "{bad:?}: {error:?}"
            );
        }
    }

    #[test]
    fn only_named_fields_change() {
        let stored = pb::Buyer {
            name: "Old".into(),
            credit_limit: Some(pb::Money {
                currency_code: "EUR".into(),
                amount: "500.00".into(),
            }),
            ..Default::default()
        };
        let update = pb::Buyer {
            name: "New".into(),
            ..Default::default()
        };
        let merged = merge(stored.clone(), &update, &["name".to_owned()]);
        assert_eq!(merged.name, "New");
        assert_eq!(merged.credit_limit, stored.credit_limit);
    }
}
