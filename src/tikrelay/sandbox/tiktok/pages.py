"""TikTok's web JSON and HTML, rendered from the model in the shapes yt-dlp's extractor reads."""

from __future__ import annotations

import html
import json
from typing import Any

from tikrelay.sandbox.tiktok.model import OK, Creator, Post, PostKind, Sound

JSON = dict[str, Any]

_MUSIC_COVER = "https://p16-sign-va.tiktokcdn-us.com/tos-useast5-v-2774-tx/music~c5_100x100.jpeg"


def item_struct(
    post: Post, author: Creator, *, create_time_as_text: bool, sound: Sound | None = None
) -> JSON:
    """``itemStruct`` of a post page, or one ``itemList`` entry of the feed API; ``sound``: the
    world's sound the post uses (else its original sound).

    The post page sends ``createTime`` as a string and the feed API as an integer, as TikTok
    does; yt-dlp's feed paging only works with the integer.
    """
    item: JSON = {
        "id": post.id,
        "desc": post.desc,
        "createTime": str(post.create_time) if create_time_as_text else post.create_time,
        "author": {
            "id": author.user_id,
            "uniqueId": author.username,
            "nickname": author.nickname,
            "secUid": author.sec_uid,
            "privateAccount": author.private,
            "verified": False,
        },
        "stats": dict(post.stats),
        "statsV2": {key: str(value) for key, value in post.stats.items()},
        "music": _music(post, author, sound),
        "video": _video(post),
        "isAd": False,
        "duetEnabled": True,
        "stitchEnabled": True,
        "shareEnabled": True,
        "textExtra": [
            {"hashtagName": word[1:], "type": 1} for word in post.desc.split() if word[:1] == "#"
        ],
    }
    if post.kind is PostKind.SLIDESHOW:
        item["imagePost"] = _image_post(post)
    return item


def apply_patch(item: JSON, fields: dict[str, Any]) -> None:
    """Overwrite fields of an item in place: ``{"createTime": "soon", "music.playUrl": url,
    "imagePost.images.0.imageURL.urlList": [url]}``. A dotted path walks objects by key and lists
    by index; missing objects on the way are created."""
    for path, value in fields.items():
        *parents, last = path.split(".")
        node: Any = item
        for part in parents:
            if isinstance(node, list):
                node = node[int(part)]
            else:
                if not isinstance(node.get(part), dict | list):
                    node[part] = {}
                node = node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value


def _music(post: Post, author: Creator, sound: Sound | None) -> JSON:
    media = post.media
    return {
        "id": sound.id if sound else original_sound_id(post),
        "title": sound.title if sound else f"original sound - {author.username}",
        "authorName": sound.author if sound else author.nickname,
        "original": sound is None,
        "duration": 1 if media.music_url else 0,
        "playUrl": media.music_url or "",
        "coverThumb": _MUSIC_COVER,
        "coverMedium": _MUSIC_COVER,
    }


def original_sound_id(post: Post) -> str:
    """The id of a post's own sound, when it uses none of the world's."""
    return post.id[::-1][:19]


def _video(post: Post) -> JSON:
    media = post.media
    video: JSON = {
        "id": post.id,
        "width": media.width,
        "height": media.height,
        "duration": post.duration,
        "ratio": "540p",
        "format": "mp4",
        "cover": media.cover_url,
        "originCover": media.cover_url,
        "dynamicCover": media.cover_url,
        "playAddr": media.play_url or "",
        "downloadAddr": media.download_url or "",
        "subtitleInfos": [],
    }
    if post.kind is PostKind.VIDEO:
        video.update(codecType="h264", definition="540p", bitrate=500_000)
        video["bitrateInfo"] = _bitrate_info(post)
    return video


def _bitrate_info(post: Post) -> list[JSON]:
    media = post.media
    code = f"v12044gd0000{post.id[-12:]}"
    infos: list[JSON] = []
    if media.hevc_url:
        # Higher resolution than the H.264 one and video-only (its path ends in HVC1_SUFFIX),
        # as TikTok's hvc1 renditions are.
        infos.append(_rendition("bytevc1_720p_800000", code, media.hevc_url, None, "h265_hvc"))
    infos.append(_rendition("h264_540p_500000", code, media.h264_url, media.clean_size, "h264"))
    return infos


def _rendition(key: str, code: str, url: str | None, size: int | None, codec: str) -> JSON:
    return {
        "GearName": f"normal_{key.split('_')[1]}_0",
        "Bitrate": int(key.rsplit("_", 1)[1]),
        "QualityType": 20,
        "CodecType": codec,
        "PlayAddr": {
            "UrlKey": f"{code}_{key}",
            "UrlList": [url],
            "DataSize": size,
            "FileCs": "c:0-0-0",
        },
    }


def _image_post(post: Post) -> JSON:
    cover = {"imageURL": {"urlList": [post.media.cover_url]}, "imageWidth": 360, "imageHeight": 640}
    return {
        "title": post.desc,
        "cover": cover,
        "shareCover": cover,
        "images": [
            {
                "imageURL": {"urlList": [slide.url, slide.mirror_url]},
                "imageWidth": slide.width,
                "imageHeight": slide.height,
            }
            for slide in post.slides
        ],
    }


def user_detail(creator: Creator, video_count: int) -> JSON:
    """``webapp.user-detail`` of a profile page; a private account hides its stats."""
    user = {
        "id": creator.user_id,
        "uniqueId": creator.username,
        "nickname": creator.nickname,
        "secUid": creator.sec_uid,
        "privateAccount": creator.private,
        "signature": "",
        "verified": False,
    }
    if creator.private:
        return {"userInfo": {"user": user}, "statusCode": 10222, "statusMsg": "author_secret"}
    stats = {
        "followerCount": creator.followers,
        "followingCount": 12,
        "heartCount": creator.followers * 3,
        "videoCount": video_count,
        "diggCount": 0,
    }
    return {
        "userInfo": {"user": user, "stats": stats, "itemList": []},
        "statusCode": OK,
        "statusMsg": "",
    }


def video_detail(status: int, item: JSON | None) -> JSON:
    """``webapp.video-detail``: the item when ``status`` is OK, else only the status."""
    if status != OK or item is None:
        return {"statusCode": status, "statusMsg": "item is not available"}
    return {"itemInfo": {"itemStruct": item}, "statusCode": OK, "statusMsg": ""}


def feed(items: list[JSON], has_more: bool, cursor_ms: int) -> JSON:
    return {
        "cursor": str(cursor_ms),
        "extra": {"fatal_item_ids": [], "now": cursor_ms},
        "hasMore": has_more,
        "hasMorePrevious": has_more,
        "itemList": items,
        "statusCode": OK,
        "status_code": OK,
        "status_msg": "",
    }


def html_page(title: str, scope: JSON) -> str:
    """A web page carrying ``__UNIVERSAL_DATA_FOR_REHYDRATION__`` (what yt-dlp parses)."""
    data = {
        "__DEFAULT_SCOPE__": {
            "webapp.app-context": {"language": "en", "region": "US", "appId": 1988},
            **scope,
        }
    }
    # "</" inside the JSON would end the <script> early; "<\/" is the same JSON string.
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '</head><body><div id="app"></div>'
        '<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">'
        f"{payload}</script></body></html>"
    )
