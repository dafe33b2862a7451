# weft cose and weft merkle (docs/crypto.md), run as a user would: round trips, refusals
# (exit 2, one error: line), and no key or plaintext in an error line. Included by
# run_cli.cmake (expect() and run_weft() come from there).

# COSE_Sign1 with the RFC 8032 test 1 seed; verify with its public key, a wrong key, a
# flipped signature bit and bytes that are not COSE.
set(seed 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60)
set(pub d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a)
set(other_pub 3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c)
run_weft(signed rc err cose sign --key ${seed} --payload 48656c6c6f --kid k1)
string(STRIP "${signed}" signed)
if(NOT rc EQUAL 0 OR NOT signed MATCHES "^d284[0-9a-f]+$")
  message(FATAL_ERROR "cose_sign: exit ${rc}, stdout '${signed}', stderr '${err}'")
endif()
expect(cose_verify 0 "48656c6c6f" ARGS cose verify --pub ${pub} ${signed})
expect(cose_verify_wrong_key 2 "" ARGS cose verify --pub ${other_pub} ${signed})
string(LENGTH "${signed}" signed_length)
math(EXPR last "${signed_length} - 1")
string(SUBSTRING "${signed}" 0 ${last} signed_head)
string(SUBSTRING "${signed}" ${last} 1 last_digit)
if(last_digit STREQUAL "0")
  set(flipped "${signed_head}1")
else()
  set(flipped "${signed_head}0")
endif()
expect(cose_verify_tampered 2 "" ARGS cose verify --pub ${pub} ${flipped})
expect(cose_verify_not_cose 2 "" ARGS cose verify --pub ${pub} 8400)
expect(cose_sign_short_seed 2 "" ARGS cose sign --key 0011 --payload 00)

# COSE_Encrypt0 round trip with external AAD; wrong AAD, wrong key and a cut message are
# refused, and the error line shows neither key nor plaintext.
string(REPEAT "53" 32 key)
string(REPEAT "54" 32 wrong_key)
set(secret_text 5365637265742070617373776f7264)  # "Secret password"
run_weft(sealed rc err cose encrypt --key ${key} --payload ${secret_text} --aad 0102)
string(STRIP "${sealed}" sealed)
if(NOT rc EQUAL 0 OR NOT sealed MATCHES "^d083[0-9a-f]+$")
  message(FATAL_ERROR "cose_encrypt: exit ${rc}, stdout '${sealed}', stderr '${err}'")
endif()
expect(cose_decrypt 0 "${secret_text}" ARGS cose decrypt --key ${key} --aad 0102 ${sealed})
expect(cose_decrypt_wrong_aad 2 "" ARGS cose decrypt --key ${key} ${sealed})
expect(cose_decrypt_wrong_key 2 "" ARGS cose decrypt --key ${wrong_key} --aad 0102 ${sealed})
string(SUBSTRING "${sealed}" 0 40 cut)
expect(cose_decrypt_cut 2 "" ARGS cose decrypt --key ${key} --aad 0102 ${cut})
foreach(case "${wrong_key};0102;${sealed}" "${key};none;${sealed}" "${key};0102;${cut}")
  list(GET case 0 used_key)
  list(GET case 1 used_aad)
  list(GET case 2 used_message)
  if(used_aad STREQUAL "none")
    run_weft(out rc err cose decrypt --key ${used_key} ${used_message})
  else()
    run_weft(out rc err cose decrypt --key ${used_key} --aad ${used_aad} ${used_message})
  endif()
  if(err MATCHES "5353535353" OR err MATCHES "5454545454" OR err MATCHES "${secret_text}"
     OR err MATCHES "Secret")
    message(FATAL_ERROR "cose_decrypt: an error line shows key or plaintext bytes: '${err}'")
  endif()
endforeach()

# RFC 9162 trees: roots and an audit path checked against SHA-256 computed independently
# (Python hashlib) for the leaves 00, 10, 2021, 3031.
set(leaves "00\n10\n2021\n3031\n")
set(root4 60db03b91113cf242cf2f6a34f88a8c5efe81d54ab1208c94e126822c0bce28f)
set(path2_a bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b)
set(path2_b e8bba54899f34c767fa1b827f136cb9fde1e3b15ff9a0a57781fc0832e523548)
expect(merkle_root_one 0 "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
       ARGS merkle root STDIN "00\n")
expect(merkle_root_four 0 "${root4}" ARGS merkle root STDIN "${leaves}")
expect(merkle_prove 0 "${path2_a}\n${path2_b}" ARGS merkle prove 2 STDIN "${leaves}")
expect(merkle_prove_out_of_range 2 "" ARGS merkle prove 4 STDIN "${leaves}")
expect(merkle_verify 0 "ok" ARGS merkle verify --index 2 --size 4 --leaf 2021 --root ${root4}
       ${path2_a} ${path2_b})
expect(merkle_verify_wrong_leaf 2 "" ARGS merkle verify --index 2 --size 4 --leaf 2022
       --root ${root4} ${path2_a} ${path2_b})
expect(merkle_verify_short_path 2 "" ARGS merkle verify --index 2 --size 4 --leaf 2021
       --root ${root4} ${path2_a})
expect(merkle_verify_bad_hash 2 "" ARGS merkle verify --index 2 --size 4 --leaf 2021
       --root ${root4} ${path2_a} 00)
expect(merkle_bad_leaf 2 "" ARGS merkle root STDIN "0g\n")
